import Testing

@testable import GatehouseProxy

/// The name table every header field of every request is looked up in: compared with a plain dictionary of
/// lower-cased names on many generated names, and at its edges.
struct HeaderNameTableTests {
    static func value(_ table: HeaderNameTable<Int>, _ name: String) -> Int? {
        Array(name.utf8).withUnsafeBytes { table.value(for: $0) }
    }

    @Test func agreesWithALowerCasedDictionary() {
        var generator = SeededGenerator(state: 7)
        let alphabet = Array("abAB-_x.".utf8)
        func name(_ length: Int) -> String {
            String(decoding: (0..<length).map { _ in alphabet[generator.below(alphabet.count)] }, as: UTF8.self)
        }
        var entries: [(name: String, value: Int)] = []
        for index in 0..<60 { entries.append((name(1 + generator.below(9)), index)) }
        let table = HeaderNameTable(entries)
        var reference: [String: Int] = [:]
        for entry in entries where reference[entry.name.lowercased()] == nil { reference[entry.name.lowercased()] = entry.value }
        var found = 0
        for _ in 0..<20_000 {
            let probe = name(generator.below(12))
            let expected = reference[probe.lowercased()]
            #expect(Self.value(table, probe) == expected, "\(probe)")
            if expected != nil { found += 1 }
        }
        // The probes must hit the table often enough for the comparison to mean something.
        #expect(found > 500)
        for entry in entries {
            #expect(Self.value(table, entry.name.uppercased()) == reference[entry.name.lowercased()])
        }
    }

    @Test func edges() {
        let table = HeaderNameTable([("Host", 1), ("te", 2), ("host", 3), ("x-forwarded-for", 4)])
        // A name given twice keeps its first value, whatever its casing.
        #expect(Self.value(table, "HOST") == 1)
        #expect(Self.value(table, "TE") == 2)
        #expect(Self.value(table, "x-forwarded-for") == 4)
        for miss in ["", "h", "hos", "hostx", "x-forwarded-fo", "x-forwarded-forx", String(repeating: "a", count: 300)] {
            #expect(Self.value(table, miss) == nil, "\(miss)")
        }
        let empty = HeaderNameTable<Int>([])
        #expect(Self.value(empty, "") == nil)
        #expect(Self.value(empty, "host") == nil)
        let set = HeaderNameTable(names: ["x-user"])
        #expect(set.contains("X-USER"))
        #expect(!set.contains("x-users"))
    }
}
