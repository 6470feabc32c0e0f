/// A position in the program's source as the JSON views give it: the function as the runtime
/// prints it, its file and line (summary's locations and creators, dump's frames and creators).
struct SourceLineJSON: Encodable {
    let function: String
    let file: String
    let line: Int
}
