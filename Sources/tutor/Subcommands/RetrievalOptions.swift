import ArgumentParser
import Curriculum
import Foundation
import Tutoring

/// How the commands that search snippets (`serve`, `curriculum search|eval`, `bench retrieval`)
/// find them: BM25 fused with a sentence encoder when one is installed, BM25 alone otherwise.
struct RetrievalOptions: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "sentence-transformers encoder folder for hybrid retrieval (default: \(SnippetEncoder.defaultDirectory) when present; tools/fetch-models.sh installs it).",
      valueName: "dir"
    )
  )
  var encoder: String?

  @Flag(name: .long, help: "Search with BM25 alone, even when an encoder is installed.")
  var noEncoder = false

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Where snippet embeddings are kept between runs (default: embeddings/ beside the default database: $TUTOR_DATA_DIR, else $XDG_DATA_HOME/tutor or ~/.local/share/tutor).",
      valueName: "dir"
    )
  )
  var embeddingCache: String?

  func validate() throws {
    if noEncoder, encoder != nil { throw ValidationError("--encoder and --no-encoder exclude each other") }
  }

  /// The encoder folder to load, or nil for BM25 alone. A folder named with --encoder must exist.
  var encoderDirectory: String? {
    get throws {
      if noEncoder { return nil }
      if let encoder {
        guard
          FileManager.default.fileExists(atPath: (encoder as NSString).appendingPathComponent("config.json"))
        else {
          throw ValidationError("\(encoder): no sentence encoder here (config.json is missing)")
        }
        return encoder
      }
      let fallback = SnippetEncoder.defaultDirectory
      return FileManager.default.fileExists(
        atPath: (fallback as NSString).appendingPathComponent("config.json")
      )
        ? fallback : nil
    }
  }

  var cacheFolder: String {
    embeddingCache ?? (Serve.defaultDataDirectory() as NSString).appendingPathComponent("embeddings")
  }

  /// The catalog's retrieval settings, the encoder loaded.
  func retrieval(threads: Int? = nil) async throws -> CurriculumCatalog.Retrieval {
    guard let directory = try encoderDirectory else { return .bm25 }
    let encoder = try await reportingErrors {
      try SnippetEncoder.load(directory: directory, threads: threads)
    }
    return CurriculumCatalog.Retrieval(encoder: encoder, cacheFolder: cacheFolder)
  }

  /// An index over `library` as these options say (the snippets embedded, or read from the cache).
  func index(
    _ library: CurriculumLibrary,
    weights: SnippetIndex.Weights = .init()
  ) async throws -> SnippetIndex {
    let retrieval = try await retrieval()
    guard let encoder = retrieval.encoder else { return SnippetIndex(library: library, weights: weights) }
    return try await reportingErrors {
      try SnippetIndex(
        library: library,
        weights: weights,
        embedder: encoder,
        cacheFolder: retrieval.cacheFolder
      )
    }
  }
}
