import CSQLite
import Foundation
import TagganCore

/// A thin wrapper over the SQLite C API: one connection, prepared statements with
/// positional bindings, and transactions. Errors name the database file.
final class SQLiteDatabase {
    let path: String
    private var handle: OpaquePointer?

    init(path: String) throws {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw TagganError.file(path, "cannot open the catalog: \(message)")
        }
        handle = db
        sqlite3_busy_timeout(db, 10_000)
        try execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
    }

    deinit { sqlite3_close_v2(handle) }

    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &message) != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(message)
            throw TagganError.file(path, "SQLite: \(text)")
        }
    }

    func prepare(_ sql: String) throws -> Statement {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw TagganError.file(path, "SQLite: \(String(cString: sqlite3_errmsg(handle))) in \(sql)")
        }
        return Statement(statement, database: self)
    }

    /// Runs `body` in one transaction: all of it lands, or none of it.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    var lastError: String { String(cString: sqlite3_errmsg(handle)) }

    /// A prepared statement. `bind` takes values in order; `step` returns true while
    /// rows come back.
    final class Statement {
        private let statement: OpaquePointer
        private unowned let database: SQLiteDatabase

        init(_ statement: OpaquePointer, database: SQLiteDatabase) {
            self.statement = statement
            self.database = database
        }

        deinit { sqlite3_finalize(statement) }

        @discardableResult
        func bind(_ values: Any?...) -> Statement {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
            for (offset, value) in values.enumerated() {
                let index = Int32(offset + 1)
                switch value {
                case let v as Int: sqlite3_bind_int64(statement, index, Int64(v))
                case let v as Int64: sqlite3_bind_int64(statement, index, v)
                case let v as Double: sqlite3_bind_double(statement, index, v)
                case let v as String: sqlite3_bind_text(statement, index, v, -1, taggan_sqlite_transient())
                case let v as Bool: sqlite3_bind_int64(statement, index, v ? 1 : 0)
                default: sqlite3_bind_null(statement, index)
                }
            }
            return self
        }

        /// Advances; true when a row is available.
        func step() throws -> Bool {
            switch sqlite3_step(statement) {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            default: throw TagganError.file(database.path, "SQLite: \(database.lastError)")
            }
        }

        /// Runs a statement that returns no rows.
        func run() throws {
            while try step() {}
        }

        func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(statement, column)) }
        func double(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }
        func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
        func string(_ column: Int32) -> String {
            guard let text = sqlite3_column_text(statement, column) else { return "" }
            return String(cString: UnsafeRawPointer(text).assumingMemoryBound(to: CChar.self))
        }
    }
}
