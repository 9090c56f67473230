import GRPCCore
import SwiftProtobuf
import Testing
import TutorAPI

/// The generated API keeps the contract other clients rely on: service and method names, streaming
/// kinds, field presence and snake_case field names.
@Suite struct ContractTests {
  @Test func servicesAndMethodsAreThoseTheIssueNames() {
    func names(_ descriptors: [MethodDescriptor]) -> [String] {
      descriptors.map { "\($0.fullyQualifiedMethod)\($0.type == .serverStreaming ? " (stream)" : "")" }
    }
    #expect(
      names(Tutor_V1_TutorService.Method.descriptors) == [
        "tutor.v1.TutorService/StartSession", "tutor.v1.TutorService/GetSession",
        "tutor.v1.TutorService/ListSessions", "tutor.v1.TutorService/Ask (stream)",
        "tutor.v1.TutorService/SubmitAnswer", "tutor.v1.TutorService/EndSession",
      ]
    )
    #expect(
      names(Tutor_V1_CurriculumService.Method.descriptors) == [
        "tutor.v1.CurriculumService/ListCurricula", "tutor.v1.CurriculumService/GetCurriculum",
        "tutor.v1.CurriculumService/GetLesson", "tutor.v1.CurriculumService/SearchSnippets",
        "tutor.v1.CurriculumService/ValidateCurriculum", "tutor.v1.CurriculumService/ReloadCurricula",
      ]
    )
    #expect(
      names(Tutor_V1_AnalyticsService.Method.descriptors) == [
        "tutor.v1.AnalyticsService/ExportSessions (stream)", "tutor.v1.AnalyticsService/GetStudentProgress",
        "tutor.v1.AnalyticsService/ListFlaggedTurns",
      ]
    )
    #expect(
      names(Tutor_V1_ModelService.Method.descriptors) == [
        "tutor.v1.ModelService/GetModelInfo", "tutor.v1.ModelService/Generate (stream)",
      ]
    )
    #expect(
      names(Grpc_Health_V1_Health.Method.descriptors) == [
        "grpc.health.v1.Health/Check", "grpc.health.v1.Health/Watch (stream)",
      ]
    )
  }

  @Test func messagesRoundTripWithPresenceAndSnakeCaseNames() throws {
    var request = Tutor_V1_AskRequest()
    request.sessionID = "s-1"
    request.question = "Why are leaves green?"
    request.options.temperature = 0  // explicitly greedy: set, although zero
    let decoded = try Tutor_V1_AskRequest(serializedBytes: try request.serializedBytes() as [UInt8])
    #expect(decoded == request)
    #expect(decoded.options.hasTemperature)
    #expect(!decoded.options.hasMaxNewTokens)

    var response = Tutor_V1_AskResponse()
    response.completed.answer = "Chlorophyll reflects green light."
    response.completed.snippetIds = ["photosynthesis/plant-cells#chloroplasts-and-chlorophyll"]
    response.completed.finishReason = .stopSequence
    let back = try Tutor_V1_AskResponse(serializedBytes: try response.serializedBytes() as [UInt8])
    guard case .completed(let completed) = back.event else {
      Issue.record("the oneof lost its case")
      return
    }
    #expect(completed.finishReason == .stopSequence)

    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    let json = try response.jsonString(options: options)
    #expect(json.contains("\"snippet_ids\""))
    #expect(json.contains("\"finish_reason\":\"FINISH_REASON_STOP_SEQUENCE\""))
  }
}
