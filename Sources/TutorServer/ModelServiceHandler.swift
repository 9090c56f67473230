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

  func getModelInfo(
    request: Tutor_V1_GetModelInfoRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_ModelInfo {
    let info = try tutoring.modelInfo(by: try Principal.required())
    return .with {
      $0.architecture = "gpt_neo"
      $0.name = info.name
      $0.parameterCount = Int64(info.parameterCount)
      $0.contextLength = Int32(info.contextLength)
      $0.vocabSize = Int32(info.vocabularySize)
      $0.hiddenSize = Int32(info.hiddenSize)
      $0.numLayers = Int32(info.layers)
      $0.numHeads = Int32(info.heads)
      $0.windowSize = Int32(info.windowSize)
      $0.weightFormat = info.weightFormat
      $0.threads = Int32(info.threads)
      $0.maxConcurrentGenerations = Int32(info.maxConcurrentGenerations)
    }
  }

  func generate(
    request: Tutor_V1_GenerateRequest,
    response: RPCWriter<Tutor_V1_GenerateResponse>,
    context: ServerContext
  ) async throws {
    let outcome = try await tutoring.generate(
      by: try Principal.required(),
      prompt: request.prompt,
      stop: request.stop,
      options: .init(request.options)
    ) { text, ids in
      try await response.write(
        .with {
          $0.delta = .with {
            $0.text = text
            $0.tokenIds = ids.map(Int32.init)
          }
        }
      )
    }
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
