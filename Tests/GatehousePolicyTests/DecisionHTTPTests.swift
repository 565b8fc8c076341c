import GatehousePolicy
import GatehouseKeys
import Testing

/// The one place a decision becomes HTTP: the `WWW-Authenticate` challenge (RFC 6750) and the small JSON body.
struct DecisionHTTPTests {
    private static let plainChallenge = #"Bearer realm="gatehouse""#

    @Test("no token: 401 with exactly Bearer realm=\"gatehouse\"")
    func noTokenChallenge() async throws {
        let fixture = try await PolicyFixture.make()
        for headers in [[], ["Basic dXNlcjpwYXNz"]] as [[String]] {
            let decision = fixture.decide("GET", "/orders/1", authorization: headers)
            #expect(decision.status == 401)
            #expect(decision.challenge == Self.plainChallenge)
            #expect(decision.responseHeaders.contains { $0.name == "WWW-Authenticate" && $0.value == Self.plainChallenge })
        }
    }

    @Test(
        "an invalid token: 401 with error=\"invalid_token\" and an error_description",
        arguments: ["expired", "garbage", "two headers"])
    func invalidTokenChallenge(kind: String) async throws {
        let fixture = try await PolicyFixture.make()
        let headers: [String]
        switch kind {
        case "expired": headers = ["Bearer " + (try fixture.token(now: testNow - 3600))]
        case "garbage": headers = ["Bearer abc.def.ghi"]
        default: headers = ["Bearer a", "Bearer b"]
        }
        let decision = fixture.decide("GET", "/orders/1", authorization: headers)
        #expect(decision.status == 401)
        let challenge = try #require(decision.challenge)
        let prefix = #"Bearer realm="gatehouse", error="invalid_token", error_description=""#
        #expect(challenge.hasPrefix(prefix))
        #expect(challenge.hasSuffix("\""))
        let description = challenge.dropFirst(prefix.count).dropLast()
        #expect(!description.isEmpty)
        #expect(!description.contains("\""))
        #expect(decision.errorCode == "invalid_token")
    }

    @Test("a missing scope: 403 with error=\"insufficient_scope\" and scope=\"<required scopes>\"")
    func missingScopeChallenge() async throws {
        let fixture = try await PolicyFixture.make()
        let read = try fixture.decide("GET", "/orders/1", claims: [:])
        #expect(read.status == 403)
        #expect(read.requiredScopes == ["orders:read", "orders:write"])
        let challenge = try #require(read.challenge)
        #expect(challenge.hasPrefix(#"Bearer realm="gatehouse", error="insufficient_scope""#))
        #expect(challenge.contains(#"scope="orders:read orders:write""#))
        #expect(read.errorCode == "insufficient_scope")

        let write = try fixture.decide("DELETE", "/orders/1", claims: ["scope": .string("orders:read")])
        #expect(write.status == 403)
        #expect(try #require(write.challenge).contains(#"scope="orders:write""#))
    }

    @Test("a missing role or claim: 403 insufficient_scope without a scope parameter")
    func missingRoleChallenge() async throws {
        let fixture = try await PolicyFixture.make()
        for decision in [
            try fixture.decide("GET", "/admin/x", claims: [:]),
            try fixture.decide("GET", "/users/bob/x", claims: ["sub": .string("alice")]),
        ] {
            #expect(decision.status == 403)
            let challenge = try #require(decision.challenge)
            #expect(challenge.hasPrefix(#"Bearer realm="gatehouse", error="insufficient_scope""#))
            #expect(!challenge.contains("scope=\""))
            #expect(decision.requiredScopes.isEmpty)
        }
    }

    @Test("400, deny and no-route answers carry no challenge: no token would help")
    func noChallenge() async throws {
        let fixture = try await PolicyFixture.make()
        let answers = [
            try fixture.decide("GET", "/a/../b", claims: nil),
            try fixture.decide("GET", "/internal/x", claims: nil),
            try fixture.decide("GET", "/nothing-here", claims: nil),
        ]
        #expect(answers.map(\.status) == [400, 403, 403])
        for decision in answers {
            #expect(decision.challenge == nil)
            #expect(!decision.responseHeaders.contains { $0.name == "WWW-Authenticate" })
        }
        // An error code that would make a client retry with a token is wrong here.
        #expect(!answers.map(\.errorCode).contains("invalid_token"))
        #expect(!answers.map(\.errorCode).contains("insufficient_scope"))
    }

    @Test("the error body is small JSON with error, error_description and route")
    func body() async throws {
        let fixture = try await PolicyFixture.make()
        let decision = try fixture.decide("DELETE", "/orders/1", claims: ["scope": .string("orders:read")])
        let body = try StrictJSONParser.parse(Array(decision.responseBody.utf8))
        #expect(body["error"] == .string("insufficient_scope"))
        #expect(body["route"] == .string("orders-write"))
        #expect(body["error_description"]?.stringValue?.isEmpty == false)
        #expect(decision.responseHeaders.contains { $0.name == "Content-Type" && $0.value == "application/json" })
        #expect(decision.responseHeaders.contains { $0.name == "WWW-Authenticate" && $0.value == decision.challenge })

        let unmatched = try StrictJSONParser.parse(Array(try fixture.decide("GET", "/x", claims: nil).responseBody.utf8))
        #expect(unmatched["route"] == .string("default"))
    }

    @Test(
        "neither body, description nor challenge ever echoes the token",
        arguments: ["expired", "bad signature", "wrong audience", "claim_invalid", "missing role", "duplicate key"])
    func neverEchoesToken(kind: String) async throws {
        let fixture = try await PolicyFixture.make()
        let marker = "SECRETMARKER0123456789"
        let token: String
        switch kind {
        case "expired":
            token = try fixture.token(["jti": .string(marker)], now: testNow - 3600)
        case "bad signature":
            token = String(try fixture.token(["jti": .string(marker)]).dropLast(4)) + "AAAA"
        case "wrong audience":
            token = try fixture.token(["jti": .string(marker), "aud": .string("other")])
        case "claim_invalid":
            token = try fixture.token(["sub": .string(marker + "\r\n")])
        case "missing role":
            token = try fixture.token(["jti": .string(marker)])
        default:
            var payload = JSONValue.object(["iss": .string(PolicyFixture.plain), "jti": .string(marker)]).jsonText
            payload.removeLast()
            payload += #","jti":"\#(marker)"}"#
            token = Forge.compact(header: #"{"alg":"HS256"}"#, payload: payload, signature: [1, 2, 3])
        }
        let decision = fixture.decide("GET", "/admin/x", authorization: ["Bearer " + token])
        #expect(decision.status == 401 || decision.status == 403)
        let parts = Forge.parts(token)
        for text in [decision.responseBody, decision.detail, decision.challenge ?? ""] {
            #expect(!text.contains(token))
            for part in parts where part.count >= 8 { #expect(!text.contains(part)) }
            #expect(!text.contains(marker))
        }
    }

    @Test("attacker-chosen text cannot break out of the challenge's quoted string or inject a line")
    func challengeStaysOneHeader() async throws {
        let fixture = try await PolicyFixture.make()
        // A duplicate key whose name is hostile ends up in the error description.
        let hostile = "x\\\"\r\nSet-Cookie: a=b"
        let key = JSONValue.string(hostile).jsonText
        let payload = #"{"iss":"\#(PolicyFixture.plain)",\#(key):1,\#(key):2}"#
        let token = Forge.compact(header: #"{"alg":"HS256"}"#, payload: payload, signature: [1])
        let decision = fixture.decide("GET", "/me", authorization: ["Bearer " + token])
        #expect(decision.status == 401)
        let challenge = try #require(decision.challenge)
        #expect(!challenge.contains("\r"))
        #expect(!challenge.contains("\n"))
        let prefix = #"Bearer realm="gatehouse", error="invalid_token", error_description=""#
        #expect(challenge.hasPrefix(prefix))
        #expect(!challenge.dropFirst(prefix.count).dropLast().contains("\""))
        // The body stays valid JSON.
        #expect(throws: Never.self) { try StrictJSONParser.parse(Array(decision.responseBody.utf8)) }
    }
}
