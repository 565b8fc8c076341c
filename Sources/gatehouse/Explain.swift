import ArgumentParser
import GatehouseConfig
import GatehousePolicy

/// `gatehouse explain`: why a request is allowed or denied.
struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show how Gatehouse decides one request, step by step.",
        discussion: """
            The last line is always 'decision: <status> <reason>'. With --token the token is verified against the
            configured keys; with --claims nothing is verified: the requirements are evaluated as if a valid token
            carried those claims.
            """
    )

    @OptionGroup var options: ConfigOption

    @Option(help: "A JWT to present (with or without 'Bearer ').")
    var token: String?

    @Option(help: "Claims as a JSON object, evaluated as if a valid token carried them.")
    var claims: String?

    @Option(help: "The issuer whose claim layout --claims follows (default: the claims' iss, else the first issuer).")
    var issuer: String?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Argument(help: "The request method, e.g. GET.")
    var method: String

    @Argument(help: "The request-target exactly as sent, e.g. /admin/users?x=1.")
    var path: String

    func validate() throws {
        if token != nil && claims != nil { throw ValidationError("give --token or --claims, not both") }
    }

    func run() async throws {
        let configuration = try await loadConfiguration(options.config)
        let credential: Policy.Credential
        if let issuer, configuration.policy.verifier.issuers[issuer] == nil {
            throw ValidationError("--issuer \(issuer) is not configured in \(options.config)")
        }
        if let claims {
            guard let value = try? StrictJSONParser.parse(Array(claims.utf8)), case .object = value else {
                throw ValidationError("--claims must be a JSON object")
            }
            credential = .claims(value, issuer: issuer)
        } else if let token {
            let header = token.lowercased().hasPrefix("bearer ") ? token : "Bearer " + token
            credential = .authorization([Substring(header)])
        } else {
            credential = .authorization([])
        }
        let explanation = Explanation.explain(
            policy: configuration.policy, method: method.uppercased(), target: path, credential: credential,
            keys: configuration.keys, now: currentTime())
        print(json ? explanation.json : explanation.text)
    }
}
