import Engine
import Foundation
import GRPCCore
import Logging
import SwiftProtobuf
import TutorAPI
import Tutoring

/// `tutor.v1.ModelService`: what the server runs, and raw generation for operators.
struct ModelServiceHandler: Tutor_V1_ModelService.SimpleServiceProtocol {
  let tutoring: TutoringService
  let logger: Logger

  /// Longest raw prompt accepted, in characters.
  static let maxPromptCharacters = 32_000

  func getModelInfo(
    request: Tutor_V1_GetModelInfoRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_ModelInfo {
    let model = tutoring.model
    let c = model.model.configuration
    return .with {
      $0.architecture = "gpt_neo"
      $0.name = model.name
      $0.parameterCount = Int64(model.model.parameterCount)
      $0.contextLength = Int32(c.maxPositionEmbeddings)
      $0.vocabSize = Int32(c.vocabSize)
      $0.hiddenSize = Int32(c.hiddenSize)
      $0.numLayers = Int32(c.numLayers)
      $0.numHeads = Int32(c.numHeads)
      $0.windowSize = Int32(c.windowSize)
      $0.weightFormat = model.model.weightFormat.rawValue
      $0.threads = Int32(model.model.threads)
      $0.maxConcurrentGenerations = Int32(model.scheduler.maxConcurrent)
    }
  }

  func generate(
    request: Tutor_V1_GenerateRequest,
    response: RPCWriter<Tutor_V1_GenerateResponse>,
    context: ServerContext
  ) async throws {
    try await handling("Generate", logger: logger) {
      guard request.prompt.count <= Self.maxPromptCharacters else {
        throw TutoringError.invalidArgument(
          "prompt is \(request.prompt.count) characters long; at most \(Self.maxPromptCharacters) are accepted"
        )
      }
      guard request.stop.count <= 16, request.stop.allSatisfy({ !$0.isEmpty && $0.count <= 256 }) else {
        throw TutoringError.invalidArgument("stop takes at most 16 non-empty strings of up to 256 characters")
      }
      let model = tutoring.model
      let options = TutoringService.GenerationOptions(request.options)
      let maxNewTokens = options.maxNewTokens ?? tutoring.limits.defaultMaxNewTokens
      guard maxNewTokens > 0, maxNewTokens <= tutoring.limits.maxNewTokens else {
        throw TutoringError.invalidArgument(
          "max_new_tokens must be between 1 and \(tutoring.limits.maxNewTokens), got \(maxNewTokens)"
        )
      }
      let parameters = GenerationParameters(
        maxNewTokens: maxNewTokens,
        temperature: options.temperature ?? 0,
        topK: options.topK.flatMap { $0 == 0 ? nil : $0 },
        topP: options.topP,
        repetitionPenalty: options.repetitionPenalty ?? 1,
        seed: options.seed,
        stopSequences: request.stop
      )
      do {
        try parameters.validate()
      } catch {
        throw TutoringError.invalidArgument("\(error)")
      }
      let promptTokens = model.tokenizer.encode(request.prompt, allowSpecialTokens: false)
      guard promptTokens.count < model.contextLength else {
        throw TutoringError.invalidArgument(
          "the prompt is \(promptTokens.count) tokens; the model's context holds \(model.contextLength)"
        )
      }
      let outcome = try await model.generate(promptTokens: promptTokens, parameters: parameters) {
        text,
        ids in
        try await response.write(
          .with {
            $0.delta = .with {
              $0.text = text
              $0.tokenIds = ids.map(Int32.init)
            }
          }
        )
      }
      if outcome.finishReason == .cancelled { throw CancellationError() }
      try await response.write(
        .with {
          $0.completed = .with {
            $0.text = outcome.text
            $0.promptTokenIds = outcome.promptTokenIds.map(Int32.init)
            $0.tokenIds = outcome.tokenIds.map(Int32.init)
            $0.finishReason = .init(outcome.finishReason)
            $0.latency = .init(outcome.elapsed)
          }
        }
      )
    }
  }
}
