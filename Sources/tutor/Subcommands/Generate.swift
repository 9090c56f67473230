import ArgumentParser
import Engine
import Foundation

struct Generate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Generate a continuation of a prompt, streamed to stdout as it is produced.",
    discussion: """
      Greedy by default (--temperature 0). With a temperature above 0 tokens are sampled as
      transformers' generate(do_sample=True) does: repetition penalty, temperature, top-k, top-p.
      The same --seed gives the same output.
      """
  )

  @OptionGroup var modelOptions: ModelOptions

  @Option(name: .long, help: "The prompt text (special tokens such as <|endoftext|> are honoured).")
  var prompt: String

  @Option(name: .customLong("max-new-tokens"), help: "Most tokens to generate.")
  var maxNewTokens: Int = 64

  @Option(name: .long, help: "Sampling temperature; 0 means greedy.")
  var temperature: Float = 0

  @Option(name: .customLong("top-k"), help: "Sample among the k most likely tokens (0: off).")
  var topK: Int?

  @Option(name: .customLong("top-p"), help: "Sample within the top cumulative probability p (1: off).")
  var topP: Float?

  @Option(name: .customLong("repetition-penalty"), help: "Penalty for tokens already seen (1: off).")
  var repetitionPenalty: Float = 1

  @Option(name: .long, help: "Random seed for sampling; the same seed gives the same output.")
  var seed: UInt64?

  @Option(
    name: .long,
    help: "Stop when the text contains this string (not included in the output). Repeatable."
  )
  var stop: [String] = []

  @Flag(name: .customLong("ignore-eos"), help: "Keep generating after <|endoftext|>.")
  var ignoreEOS = false

  @Flag(
    name: .long,
    help: "Print one JSON object: prompt_token_ids, token_ids, text, finish_reason, timings."
  )
  var json = false

  func run() async throws {
    try await reportingErrors {
      // Settings are checked before the (slower) model load.
      let parameters = GenerationParameters(
        maxNewTokens: maxNewTokens,
        temperature: temperature,
        topK: topK,
        topP: topP,
        repetitionPenalty: repetitionPenalty,
        seed: seed,
        stopSequences: stop,
        stopAtEndOfText: !ignoreEOS
      )
      try parameters.validate()
      let clock = ContinuousClock()
      let start = clock.now
      let generator = TextGenerator(
        model: try modelOptions.loadModel(),
        tokenizer: try modelOptions.loadTokenizer()
      )
      let loadSeconds = (clock.now - start) / .seconds(1)
      var result: GenerationResult?
      for try await event in generator.stream(prompt: prompt, parameters: parameters) {
        switch event {
        case .token(_, let text):
          if !json, !text.isEmpty { Console.write(text) }
        case .finished(let r):
          result = r
        }
      }
      guard let result else { return }
      if json {
        try Console.writeJSON([
          "prompt_token_ids": result.promptTokenIds,
          "token_ids": result.tokenIds,
          "text": result.text,
          "finish_reason": result.finishReason.rawValue,
          "load_seconds": loadSeconds,
          "prompt_seconds": result.promptSeconds,
          "generation_seconds": result.generationSeconds,
          "tokens_per_second": result.tokensPerSecond,
        ])
      } else {
        Console.write("\n")
        Console.error(
          String(
            format: "[%d prompt tokens, %d generated, %@; load %.2f s, prompt %.3f s, %.1f tokens/s]",
            result.promptTokenIds.count,
            result.tokenIds.count,
            result.finishReason.rawValue,
            loadSeconds,
            result.promptSeconds,
            result.tokensPerSecond
          )
        )
      }
    }
  }
}
