import GatehousePolicy

/// A fixed set of header names, each with a value, looked up in any casing from the bytes of a head.
///
/// Every field of every request is looked up here, so a lookup neither hashes, allocates nor counts references: the
/// names lie lower-cased in one buffer the table allocates once, grouped by length, and a name is compared with the
/// few of its own length only.
final class HeaderNameTable<Value: BitwiseCopyable & Sendable>: @unchecked Sendable {
    // Sendable: the buffers are written in `init` only and freed in `deinit`.
    private struct Entry {
        var offset: Int
        var value: Value
    }

    /// The names, lower-cased, one after the other in order of length.
    private let bytes: UnsafeMutableRawBufferPointer
    /// One entry per name, in the order of `bytes`.
    private let entries: UnsafeMutableBufferPointer<Entry>
    /// `starts[n]..<starts[n + 1]` are the entries of the names `n` bytes long.
    private let starts: UnsafeMutableBufferPointer<Int>

    /// A table of `names`; a name given twice keeps its first value.
    init(_ names: [(name: String, value: Value)]) {
        var unique: [(name: [UInt8], value: Value)] = []
        for (name, value) in names {
            let lower = Array(HeaderName.lowercase(name).utf8)
            if !unique.contains(where: { $0.name == lower }) { unique.append((lower, value)) }
        }
        unique.sort { $0.name.count < $1.name.count }
        let longest = unique.last?.name.count ?? 0
        bytes = .allocate(byteCount: max(1, unique.reduce(0) { $0 + $1.name.count }), alignment: 1)
        entries = .allocate(capacity: max(1, unique.count))
        starts = .allocate(capacity: longest + 2)
        var offset = 0
        var length = 0
        starts.initializeElement(at: 0, to: 0)
        for (index, name) in unique.enumerated() {
            while length < name.name.count {
                length += 1
                starts.initializeElement(at: length, to: index)
            }
            UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + name.name.count]).copyBytes(from: name.name)
            entries.initializeElement(at: index, to: Entry(offset: offset, value: name.value))
            offset += name.name.count
        }
        while length <= longest {
            length += 1
            starts.initializeElement(at: length, to: unique.count)
        }
    }

    deinit {
        bytes.deallocate()
        entries.deallocate()
        starts.deallocate()
    }

    /// The value of the name in `name`, compared ignoring ASCII case; `nil` for a name not in the table.
    func value(for name: UnsafeRawBufferPointer) -> Value? {
        let count = name.count
        guard count > 0, count + 1 < starts.count else { return nil }
        for index in starts[count]..<starts[count + 1] {
            let entry = entries[index]
            let candidate = UnsafeRawBufferPointer(rebasing: bytes[entry.offset..<entry.offset + count])
            if HeaderName.equalsIgnoringCase(name, candidate) { return entry.value }
        }
        return nil
    }

    /// Whether the name in `name` is in the table, in any casing.
    func contains(_ name: UnsafeRawBufferPointer) -> Bool { value(for: name) != nil }
}

extension HeaderNameTable where Value == Bool {
    /// A set of names: each maps to `true`.
    convenience init(names: some Sequence<String>) {
        self.init(names.map { ($0, true) })
    }

    /// Whether `name` is in the set, in any casing.
    func contains(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { contains(UnsafeRawBufferPointer($0)) }
    }
}
