import ArgumentParser
import FoundationEssentials
import GatehouseConfig
import GatehouseKeys
import GatehousePolicy

/// `gatehouse token`: mint a development token.
struct MintToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Mint a development token, for trying Gatehouse by hand.",
        discussion: """
            With --config (default routes.yaml when it exists) the issuer's audience, algorithm and claim layout
            (roles_claim, scopes_claim) are taken from the file, and its HMAC secret is used when it has one.
            Otherwise give --issuer, --audience and a key.
            """
    )

    @Option(name: .shortAndLong, help: "The route table whose issuer settings to follow.")
    var config: String?

    @Option(help: "The iss claim (default: the file's first issuer).")
    var issuer: String?

    @Option(help: "The aud claim (default: the issuer's first audience).")
    var audience: String?

    @Option(help: "The sub claim.")
    var sub: String = "dev-user"

    @Option(help: "Roles, comma-separated.")
    var roles: String?

    @Option(help: "Scopes, space- or comma-separated.")
    var scopes: String?

    @Option(name: .customLong("claim"), help: "An extra claim NAME=VALUE (VALUE is JSON when it parses as JSON). Repeatable.")
    var extraClaims: [String] = []

    @Option(help: "Lifetime, e.g. 15m, 1h.")
    var ttl: String = "15m"

    @Option(help: "A PEM private key to sign with.")
    var key: String?

    @Option(name: .customLong("secret-env"), help: "An environment variable holding an HMAC secret to sign with.")
    var secretEnv: String?

    @Option(help: "The algorithm (default: the issuer's first allowed algorithm for the key).")
    var alg: String?

    @Option(help: "The kid header.")
    var kid: String?

    func run() async throws {
        guard let lifetime = DurationText.seconds(ttl), lifetime > 0 else { throw ValidationError("--ttl must be like 15m or 1h") }
        var issuerPolicy: IssuerPolicy? = nil
        var configuredKey: IssuerConfiguration.Key? = nil
        let configPath = config ?? (FileManager.default.fileExists(atPath: "routes.yaml") ? "routes.yaml" : nil)
        if let configPath {
            let configuration = try await loadConfiguration(configPath)
            let chosen = issuer.flatMap { name in configuration.issuers.first { $0.policy.issuer == name } }
                ?? (issuer == nil ? configuration.issuers.first : nil)
            issuerPolicy = chosen?.policy
            configuredKey = chosen?.keys.first
        }
        guard let issuerName = issuer ?? issuerPolicy?.issuer else {
            throw ValidationError("give --issuer (or --config with an issuer)")
        }
        let material: KeyMaterial
        if let key {
            material = try KeyFiles.readPEM(at: key)
            guard material.canSign else { throw ValidationError("\(key) holds a public key; a private key is needed to sign") }
        } else if let secretEnv {
            material = try KeyFiles.readSecret(env: secretEnv, environment: ProcessInfoEnvironment.current)
        } else if let configuredKey, configuredKey.material.canSign {
            material = configuredKey.material
        } else {
            throw ValidationError("give --key PEM or --secret-env VAR: the configured key cannot sign")
        }
        let algorithm: SignatureAlgorithm
        if let alg {
            guard let named = SignatureAlgorithm(rawValue: alg) else { throw ValidationError("unknown algorithm \(alg)") }
            algorithm = named
        } else if let found = SignatureAlgorithm.preferred(for: material.kind, allowed: issuerPolicy?.algorithms) {
            algorithm = found
        } else {
            throw ValidationError("no allowed algorithm fits this key")
        }
        let layout = issuerPolicy ?? IssuerPolicy(issuer: issuerName, audiences: nil, algorithms: [algorithm])
        var claims = [String: JSONValue]()
        claims["sub"] = .string(sub)
        if let audience = audience ?? layout.audiences?.first { claims["aud"] = .string(audience) }
        if let roles {
            let list = roles.split(separator: ",").map { JSONValue.string(String($0).trimmingCharacters(in: .whitespaces)) }
            layout.rolesClaim.set(.array(list), in: &claims)
        }
        if let scopes {
            let list = scopes.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            layout.scopesClaim.set(.string(list.joined(separator: " ")), in: &claims)
        }
        for entry in extraClaims {
            guard let equals = entry.firstIndex(of: "=") else { throw ValidationError("--claim takes NAME=VALUE") }
            let name = String(entry[..<equals])
            let text = String(entry[entry.index(after: equals)...])
            let value = (try? StrictJSONParser.parse(Array(text.utf8))) ?? .string(text)
            let path = (try? ClaimPath(parsing: name)) ?? ClaimPath(keys: [name])
            path.set(value, in: &claims)
        }
        let now = currentTime()
        let full = TestKeys.claims(claims, issuer: IssuerPolicy(issuer: issuerName, audiences: nil, algorithms: []), now: now, lifetime: lifetime)
        let minter = try await TokenMinter(key: material, algorithm: algorithm, kid: kid ?? configuredKey?.kid)
        print(try minter.mint(full))
    }
}
