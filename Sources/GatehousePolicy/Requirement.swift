/// What a protected route requires of a verified token. `roles`, `scopes` and `claims` combine with AND.
public struct Requirement: Sendable, Equatable {
    /// A set of names that must be held: any one of them, or every one.
    public enum NameSet: Sendable, Equatable {
        case anyOf([String])
        case allOf([String])

        /// The names listed.
        public var names: [String] {
            switch self {
            case .anyOf(let names), .allOf(let names): return names
            }
        }

        /// Whether `held` satisfies this set.
        public func isSatisfied(by held: Set<String>) -> Bool {
            switch self {
            case .anyOf(let names): return names.contains { held.containsExactly($0) }
            case .allOf(let names): return names.allSatisfy { held.containsExactly($0) }
            }
        }

        var summary: String {
            switch self {
            case .anyOf(let names): return names.count == 1 ? names[0] : "any of [\(names.joined(separator: ", "))]"
            case .allOf(let names): return "all of [\(names.joined(separator: ", "))]"
            }
        }
    }

    /// What a claim must hold.
    public enum ClaimCondition: Sendable, Equatable {
        /// One of these values (a single value is a list of one).
        case oneOf([String])
        /// Equal to the path parameter of this name (the owner rule).
        case pathParameter(String)
    }

    /// Roles the token must carry; `nil` when not required.
    public var roles: NameSet?
    /// Scopes the token must carry; `nil` when not required.
    public var scopes: NameSet?
    /// Claims that must hold, in the order written.
    public var claims: [(path: ClaimPath, condition: ClaimCondition)]

    /// Creates a requirement; with no roles, scopes or claims it asks only for a valid token.
    public init(roles: NameSet? = nil, scopes: NameSet? = nil, claims: [(path: ClaimPath, condition: ClaimCondition)] = []) {
        self.roles = roles
        self.scopes = scopes
        self.claims = claims
    }

    public static func == (lhs: Requirement, rhs: Requirement) -> Bool {
        lhs.roles == rhs.roles && lhs.scopes == rhs.scopes && lhs.claims.count == rhs.claims.count
            && zip(lhs.claims, rhs.claims).allSatisfy { $0.path == $1.path && $0.condition == $1.condition }
    }
}

/// What a route (or the default) does with a request.
public enum Access: Sendable, Equatable {
    /// No authentication.
    case `public`
    /// 403 for everyone.
    case deny
    /// A valid token meeting the requirement.
    case require(Requirement)
}
