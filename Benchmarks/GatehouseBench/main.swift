// Decisions per second on one core: token verification per algorithm, with and without the verified-token cache,
// and route matching at 10, 1,000 and 50,000 routes. Run in release mode:
//
//     swift run -c release GatehouseBench
//
// Each case runs for about a second after a warm-up and prints operations per second and nanoseconds per operation.
import GatehouseKeys
import GatehousePolicy

let clock = ContinuousClock()

/// Runs `body` repeatedly for about `seconds` and returns operations per second.
func measure(seconds: Double = 1.0, _ body: () -> Void) -> Double {
    for _ in 0..<200 { body() }
    var iterations = 0
    let start = clock.now
    let budget = Duration.milliseconds(Int64(seconds * 1000))
    var elapsed = Duration.zero
    while elapsed < budget {
        for _ in 0..<100 { body() }
        iterations += 100
        elapsed = clock.now - start
    }
    let (secondsPart, attoseconds) = elapsed.components
    return Double(iterations) / (Double(secondsPart) + Double(attoseconds) / 1e18)
}

func report(_ name: String, _ perSecond: Double) {
    let padded = name + String(repeating: " ", count: max(0, 44 - name.count))
    let rate = String(Int(perSecond.rounded()))
    let nanos = String(format1(1e9 / perSecond))
    print("\(padded) \(String(repeating: " ", count: max(0, 12 - rate.count)))\(rate)/s  \(String(repeating: " ", count: max(0, 10 - nanos.count)))\(nanos) ns/op")
}

func format1(_ value: Double) -> String {
    let scaled = (value * 10).rounded() / 10
    return String(scaled)
}

let now = 1_800_000_000.0
let issuerName = "https://bench.example/"

func makePolicy(routes: [Route], algorithm: SignatureAlgorithm, cacheCapacity: Int) -> Policy {
    let issuer = IssuerPolicy(issuer: issuerName, audiences: ["bench"], algorithms: [algorithm])
    // swift-format-ignore
    return Policy(
        routes: try! RouteTable(routes), defaultAccess: .deny, verifier: TokenVerifier(issuers: [issuer]),
        cache: TokenCache(capacity: cacheCapacity))
}

let protectedRoutes = [
    Route(id: "public", pattern: try! PathPattern("/healthz"), access: .public),
    Route(id: "orders", pattern: try! PathPattern("/orders/**"), methods: ["GET"], access: .require(Requirement(scopes: .anyOf(["orders:read"])))),
    Route(id: "admin", pattern: try! PathPattern("/admin/**"), access: .require(Requirement(roles: .anyOf(["admin"])))),
]

print("Gatehouse policy benchmark (one core, release build)")
print("")
print("token verification, GET /orders/42 with a valid token:")
for algorithm in [SignatureAlgorithm.hs256, .rs256, .es256, .eddsa] {
    let material = try KeyMaterial.generate(algorithm.keyKind)
    let minter = try await TokenMinter(key: material, algorithm: algorithm, kid: "k1")
    let key = try await material.verificationKey(kid: "k1", algorithm: algorithm)
    let keys = KeySet(keysByIssuer: [issuerName: [key]])
    let token = try minter.mint(.object([
        "iss": .string(issuerName), "aud": .string("bench"), "sub": .string("alice"),
        "scope": .string("orders:read"), "iat": .number(now - 10), "exp": .number(now + 3600),
    ]))
    let header = [Substring("Bearer " + token)]
    for cached in [false, true] {
        let policy = makePolicy(routes: protectedRoutes, algorithm: algorithm, cacheCapacity: cached ? 10_000 : 0)
        let check = policy.decide(method: "GET", target: "/orders/42", credential: .authorization(header), keys: keys, now: now)
        precondition(check.status == 200, "benchmark token must be accepted: \(check.reason)")
        let rate = measure {
            _ = policy.decide(method: "GET", target: "/orders/42", credential: .authorization(header), keys: keys, now: now)
        }
        report("  \(algorithm.rawValue) \(cached ? "cached" : "uncached (signature every time)")", rate)
    }
}

print("")
print("route matching (public route at the end of the table, decide() including path normalisation):")
for count in [10, 1_000, 50_000] {
    var routes = [Route]()
    for index in 0..<(count - 1) {
        let pattern = index % 2 == 0 ? "/svc\(index)/items/{id}" : "/svc\(index)/**"
        routes.append(Route(id: "r\(index)", pattern: try! PathPattern(pattern), access: .public))
    }
    routes.append(Route(id: "last", pattern: try! PathPattern("/zz/last/{id}/details"), access: .public))
    let policy = makePolicy(routes: routes, algorithm: .hs256, cacheCapacity: 0)
    let keys = KeySet(keysByIssuer: [:])
    let check = policy.decide(method: "GET", target: "/zz/last/7/details", credential: .authorization([]), keys: keys, now: now)
    precondition(check.status == 200 && check.routeID == "last")
    let decideRate = measure {
        _ = policy.decide(method: "GET", target: "/zz/last/7/details", credential: .authorization([]), keys: keys, now: now)
    }
    report("  \(count) routes: decide", decideRate)
    let segments: [Substring] = ["zz", "last", "7", "details"]
    let matchRate = measure { _ = policy.routes.match(segments: segments, method: "GET") }
    report("  \(count) routes: match only", matchRate)
}
