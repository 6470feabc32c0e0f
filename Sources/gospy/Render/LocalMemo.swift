/// A table of values computed once per key for one thread, without a lock: a dump's rendering
/// threads look the same few hundred keys up for every goroutine, where a shared table's lock
/// is contended. Bounded: past `limit` keys, values are computed each time.
final class LocalMemo<Key: Hashable, Value> {
    private var table: [Key: Value] = [:]
    private let limit: Int

    init(limit: Int = 20_000) {
        self.limit = limit
    }

    func value(_ key: Key, _ compute: () -> Value) -> Value {
        if let hit = table[key] { return hit }
        let value = compute()
        if table.count < limit { table[key] = value }
        return value
    }
}
