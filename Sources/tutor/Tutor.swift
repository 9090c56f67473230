import ArgumentParser

/// `tutor`: the tutoring server's command-line tool.
@main
struct Tutor: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tutor",
    abstract: "A tutoring backend with its own GPT-Neo inference engine.",
    subcommands: [
      Serve.self, SessionCommand.self, Health.self, CurriculumCommand.self, Generate.self, Tokenize.self,
      Perplexity.self, ResidualStream.self, RandomModel.self, Bench.self, Export.self, Stats.self,
      TokenCommand.self,
      LoadTest.self, Eval.self,
      StudentCommand.self, DatabaseCommand.self, SafetyCommand.self, FlagsCommand.self, Purge.self,
    ]
  )
}
