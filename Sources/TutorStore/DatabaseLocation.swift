import Foundation

/// Where the learning record lives: a SQLite file, or a PostgreSQL database named by a URL
/// (`postgres://user:password@host:port/database`, as libpq spells it).
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
  case sqlite(path: String)
  case postgres(PostgresURL)

  /// A PostgreSQL server and database, parsed from a URL.
  public struct PostgresURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// `sslmode`: `disable` (the default here: loopback and private networks), `prefer` or
    /// `require`.
    public var tls: TLSMode

    public enum TLSMode: String, Sendable { case disable, prefer, require }

    public init(
      host: String,
      port: Int = 5432,
      user: String,
      password: String?,
      database: String,
      tls: TLSMode
    ) {
      self.host = host
      self.port = port
      self.user = user
      self.password = password
      self.database = database
      self.tls = tls
    }

    /// The URL again, with any password left out (for logs).
    public var redacted: String {
      "postgres://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
        + (tls == .disable ? "" : "?sslmode=\(tls.rawValue)")
    }

    /// The URL again, password included.
    public var url: String {
      let encode = { (s: String) in s.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? s }
      let credentials = encode(user) + (password.map { ":" + encode($0) } ?? "")
      return "postgres://\(credentials)@\(host):\(port)/\(database)"
        + (tls == .disable ? "" : "?sslmode=\(tls.rawValue)")
    }
  }

  /// A `postgres://` or `postgresql://` URL, or else a file path.
  /// - Throws: ``DatabaseLocationError`` for a URL that lacks what a connection needs.
  public init(parsing text: String) throws {
    guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else {
      self = .sqlite(path: text)
      return
    }
    guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
      throw DatabaseLocationError(text: text, reason: "no host (postgres://user:password@host:port/database)")
    }
    guard let user = components.user, !user.isEmpty else {
      throw DatabaseLocationError(text: text, reason: "no user (postgres://user:password@host:port/database)")
    }
    let database = String(components.path.drop { $0 == "/" })
    guard !database.isEmpty, !database.contains("/") else {
      throw DatabaseLocationError(text: text, reason: "no database name after the host")
    }
    var tls = PostgresURL.TLSMode.disable
    for item in components.queryItems ?? [] {
      switch (item.name, item.value ?? "") {
      case ("sslmode", let mode):
        guard let parsed = PostgresURL.TLSMode(rawValue: mode) else {
          throw DatabaseLocationError(
            text: text,
            reason: "sslmode must be disable, prefer or require, not '\(mode)'"
          )
        }
        tls = parsed
      default:
        throw DatabaseLocationError(
          text: text,
          reason: "unknown parameter '\(item.name)' (only sslmode is read)"
        )
      }
    }
    self = .postgres(
      PostgresURL(
        host: host,
        port: components.port ?? 5432,
        user: user.removingPercentEncoding ?? user,
        password: components.password.map { $0.removingPercentEncoding ?? $0 },
        database: database.removingPercentEncoding ?? database,
        tls: tls
      )
    )
  }

  public var description: String {
    switch self {
    case .sqlite(let path): path
    case .postgres(let url): url.redacted
    }
  }

  /// The SQLite file, when the record is one.
  public var path: String? {
    if case .sqlite(let path) = self { return path }
    return nil
  }
}

/// A database URL that cannot be used, and why.
public struct DatabaseLocationError: Error, CustomStringConvertible {
  public var text: String
  public var reason: String
  public var description: String {
    // The password stays out of messages and logs.
    let shown = text.replacingOccurrences(
      of: #"(//[^:/@]*):[^@]*@"#,
      with: "$1:***@",
      options: .regularExpression
    )
    return "database URL \(shown): \(reason)"
  }
}
