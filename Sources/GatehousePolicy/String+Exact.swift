extension String {
    /// Byte-for-byte equality of the UTF-8 forms. Swift's `==` treats canonically equivalent strings as equal
    /// (`"café"` precomposed and decomposed); identities, audiences and claim values must not.
    @inlinable
    package func isExactly(_ other: String) -> Bool {
        self.utf8.elementsEqual(other.utf8)
    }
}

extension Set<String> {
    /// Membership by exact bytes (see ``Swift/String/isExactly(_:)``).
    package func containsExactly(_ name: String) -> Bool {
        guard let index = firstIndex(of: name) else { return false }
        return self[index].isExactly(name)
    }
}
