extension Dictionary {
    /// The value for `key`, made by `make` the first time it is asked for and kept: texts that
    /// many goroutines share (one per stack, one per go statement) are made once.
    mutating func value(for key: Key, orMake make: () -> Value) -> Value {
        if let known = self[key] { return known }
        let made = make()
        self[key] = made
        return made
    }
}
