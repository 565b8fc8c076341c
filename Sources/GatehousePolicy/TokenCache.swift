import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded cache of verified tokens, keyed by the token's bytes, so that a client reusing its token pays for the
/// signature once.
///
/// An entry is used only while `now` is before the token's `exp` and the key set is the one it was verified under;
/// only tokens that verified are stored, so the cache can never turn an invalid token valid.
public final class TokenCache: Sendable {
    /// One verified token with the identity headers it yields (a class: a hit hands it out without copying).
    final class Entry: Sendable {
        let token: VerifiedToken
        let identity: [IdentityHeaderValue]
        let keyGeneration: UInt64

        init(token: VerifiedToken, identity: [IdentityHeaderValue], keyGeneration: UInt64) {
            self.token = token
            self.identity = identity
            self.keyGeneration = keyGeneration
        }
    }

    /// A token as a key: compared byte for byte, hashed by its length and last 32 bytes. Those end its signature,
    /// which no two tokens that verified share (only those are stored), so hashing the hundreds of bytes before
    /// them would buy nothing.
    struct Key: Hashable {
        let text: Substring

        static func == (lhs: Key, rhs: Key) -> Bool {
            let (left, right) = (lhs.text.utf8, rhs.text.utf8)
            guard left.count == right.count else { return false }
            guard left.count > 0 else { return true }
            let compared = left.withContiguousStorageIfAvailable { left in
                right.withContiguousStorageIfAvailable { right in memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0 }
            }
            if let compared, let equal = compared { return equal }
            return left.elementsEqual(right)
        }

        func hash(into hasher: inout Hasher) {
            let utf8 = text.utf8
            hasher.combine(utf8.count)
            let tail = utf8[utf8.index(utf8.endIndex, offsetBy: -min(32, utf8.count))...]
            if tail.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) == nil {
                for byte in tail { hasher.combine(byte) }
            }
        }
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var hits: UInt64 = 0
        var misses: UInt64 = 0
    }

    private let state = Mutex(State())
    /// The most entries kept. Default 10,000.
    public let capacity: Int

    /// Creates a cache holding at most `capacity` tokens (0 disables caching).
    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// The entry for `token`, if it is still good. A miss is not counted here: the lookup is made before the
    /// credential's shape is checked, and the caller counts it (``countMiss()``) once the credential is a token.
    func lookup(_ token: Substring, keyGeneration: UInt64, now: Double) -> Entry? {
        guard capacity > 0 else { return nil }
        return state.withLock { state in
            guard let entry = state.entries[Key(text: token)] else {
                return nil
            }
            guard entry.keyGeneration == keyGeneration, now < entry.token.expiresAt else {
                state.entries[Key(text: token)] = nil
                return nil
            }
            state.hits += 1
            return entry
        }
    }

    /// Counts a miss found by a lookup that did not count it.
    func countMiss() {
        guard capacity > 0 else { return }
        state.withLock { $0.misses += 1 }
    }

    func store(_ token: Substring, _ entry: Entry, now: Double) {
        guard capacity > 0, now < entry.token.expiresAt else { return }
        // Own the bytes: the caller's substring may view a larger buffer.
        let key = Key(text: Substring(String(token)))
        state.withLock { state in
            if state.entries.count >= capacity {
                state.entries = state.entries.filter { now < $0.value.token.expiresAt }
                if state.entries.count >= capacity {
                    // Still full of live tokens: drop an arbitrary half rather than grow.
                    var dropped = 0
                    let target = capacity / 2
                    for key in state.entries.keys {
                        if dropped >= target { break }
                        state.entries[key] = nil
                        dropped += 1
                    }
                }
            }
            state.entries[key] = entry
        }
    }

    /// Entries now held, hits and misses so far.
    public var statistics: (count: Int, hits: UInt64, misses: UInt64) {
        state.withLock { ($0.entries.count, $0.hits, $0.misses) }
    }
}
