extension String {
    /// Byte-for-byte equality of the UTF-8 forms. Swift's `==` treats canonically equivalent strings as equal
    /// (`"café"` precomposed and decomposed); identities, audiences and claim values must not.
    ///
    /// Native strings (all but bridged ones) are compared as two buffers: a scope or role check makes this
    /// comparison on every request.
    @inlinable
    package func isExactly(_ other: String) -> Bool {
        let mine = utf8
        let theirs = other.utf8
        guard mine.count == theirs.count else { return false }
        let inPlace = mine.withContiguousStorageIfAvailable { mine in
            theirs.withContiguousStorageIfAvailable { theirs in mine.elementsEqual(theirs) }
        }
        if let inPlace = inPlace ?? nil { return inPlace }
        return mine.elementsEqual(theirs)
    }
}

extension Set<String> {
    /// Membership by exact bytes (see ``Swift/String/isExactly(_:)``).
    package func containsExactly(_ name: String) -> Bool {
        guard let index = firstIndex(of: name) else { return false }
        return self[index].isExactly(name)
    }
}
