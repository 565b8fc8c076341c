import NIOCore

extension ByteBuffer {
    /// Writes `name: value` and CRLF with one capacity check: heads are written field by field on every request, and
    /// each separate write would check capacity and uniqueness again.
    mutating func writeField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let count = name.count + value.count + 4
        writeWithUnsafeMutableBytes(minimumWritableBytes: count) { out in
            var offset = 0
            Self.put(name, into: out, at: &offset)
            out[offset] = UInt8(ascii: ":")
            out[offset + 1] = UInt8(ascii: " ")
            offset += 2
            Self.put(value, into: out, at: &offset)
            out[offset] = UInt8(ascii: "\r")
            out[offset + 1] = UInt8(ascii: "\n")
            return count
        }
    }

    /// Writes a parsed head's field, whose bytes are in `raw`, as `name: value` and CRLF.
    mutating func writeField(_ field: HeadField, in raw: UnsafeRawBufferPointer) {
        writeField(name: UnsafeRawBufferPointer(rebasing: raw[field.name]), value: UnsafeRawBufferPointer(rebasing: raw[field.value]))
    }

    /// Writes `name: value` and CRLF with one capacity check.
    /// Native strings are read in place; only a bridged one is copied first.
    mutating func writeField(_ name: String, _ value: String) {
        let inPlace =
            name.utf8.withContiguousStorageIfAvailable { name in
                value.utf8.withContiguousStorageIfAvailable { value in
                    writeField(name: UnsafeRawBufferPointer(name), value: UnsafeRawBufferPointer(value))
                } != nil
            } ?? false
        if !inPlace {
            var name = name
            var value = value
            name.withUTF8 { name in
                value.withUTF8 { value in writeField(name: UnsafeRawBufferPointer(name), value: UnsafeRawBufferPointer(value)) }
            }
        }
    }

    /// Writes `first second third` and CRLF (a request or status line) with one capacity check.
    mutating func writeLine(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, _ third: UnsafeRawBufferPointer) {
        let count = first.count + second.count + third.count + 4
        writeWithUnsafeMutableBytes(minimumWritableBytes: count) { out in
            var offset = 0
            Self.put(first, into: out, at: &offset)
            out[offset] = UInt8(ascii: " ")
            offset += 1
            Self.put(second, into: out, at: &offset)
            out[offset] = UInt8(ascii: " ")
            offset += 1
            Self.put(third, into: out, at: &offset)
            out[offset] = UInt8(ascii: "\r")
            out[offset + 1] = UInt8(ascii: "\n")
            return count
        }
    }

    private static func put(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, at offset: inout Int) {
        UnsafeMutableRawBufferPointer(rebasing: out[offset..<offset + bytes.count]).copyMemory(from: bytes)
        offset += bytes.count
    }
}
