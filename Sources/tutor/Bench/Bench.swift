import ArgumentParser

/// `tutor bench …`: benchmarks, run on release builds (see README, Benchmarks).
struct Bench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Benchmarks (build with -c release).",
    subcommands: [BenchEngine.self, BenchRetrieval.self, BenchExport.self],
    defaultSubcommand: BenchEngine.self
  )
}
