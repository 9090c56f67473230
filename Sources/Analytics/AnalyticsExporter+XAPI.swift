import TutorStore

/// xAPI 1.0.3 statements, written member by member (a JSONEncoder per statement would be the
/// slowest part of an export).
///
/// Turns: the student `asked` (object: the lesson; result: the question as the response, the
/// explanation in an extension, the generation time as the duration). Attempts: the student
/// `answered` (object: the exercise, a cmi.interaction; result: success, the response and the
/// time since the previous attempt as the duration). Both carry the session as the registration
/// and the curriculum as the parent activity; attempts carry their lesson as the grouping activity.
extension AnalyticsExporter {
  mutating func writeStatement(_ record: ExportRecord, to out: inout ExportBytes) {
    rowsWritten += 1
    let id: String
    let sessionId: String
    let studentId: String
    let curriculumId: String
    let lessonId: String
    let timestamp: Int64
    switch record {
    case .turn(let turn, let student, let curriculum, let lesson):
      (id, sessionId, studentId, curriculumId, lessonId, timestamp) =
        (turn.id, turn.sessionId, student, curriculum, lesson, turn.createdAtMs)
    case .attempt(let attempt, _):
      (id, sessionId, studentId, curriculumId, lessonId, timestamp) =
        (
          attempt.id, attempt.sessionId, attempt.studentId, attempt.curriculumId, attempt.lessonId,
          attempt.createdAtMs
        )
    }
    out.append("{\"id\":")
    out.append(json: id)
    out.append(",\"actor\":{\"objectType\":\"Agent\",\"account\":{\"homePage\":\"")
    out.append(jsonHome)
    out.append("\",\"name\":")
    out.append(json: student(studentId))
    out.append("}},\"verb\":")
    switch record {
    case .turn(let turn, _, _, _):
      out.append("{\"id\":\"http://adlnet.gov/expapi/verbs/asked\",\"display\":{\"en-US\":\"asked\"}}")
      out.append(",\"object\":")
      writeActivity(
        curriculumId,
        lessonId,
        kind: "lessons",
        type: "http://adlnet.gov/expapi/activities/lesson",
        to: &out
      )
      out.append(",\"result\":{")
      if let question = text(turn.question) {
        out.append("\"response\":")
        out.append(json: question)
        out.append(",")
      }
      out.append(turn.status == .completed ? "\"completion\":true" : "\"completion\":false")
      if let latency = turn.latencyMilliseconds {
        out.append(",\"duration\":\"")
        out.append(duration: latency)
        out.append("\"")
      }
      out.append(",\"extensions\":{")
      writeExtension("status", to: &out)
      out.append(json: turn.status.rawValue)
      out.append(",")
      writeExtension("prompt-tokens", to: &out)
      out.append(decimal: turn.promptTokens)
      out.append(",")
      writeExtension("completion-tokens", to: &out)
      out.append(decimal: turn.completionTokens)
      out.append(",")
      writeExtension("snippet-ids", to: &out)
      out.append(jsonArray: turn.snippetIds)
      if let answer = text(turn.answer) {
        out.append(",")
        writeExtension("explanation", to: &out)
        out.append(json: answer)
      }
      out.append("}}")
    case .attempt(let attempt, let context):
      out.append(
        "{\"id\":\"http://adlnet.gov/expapi/verbs/answered\",\"display\":{\"en-US\":\"answered\"}}"
      )
      out.append(",\"object\":")
      writeActivity(
        curriculumId,
        attempt.exerciseId,
        kind: "exercises",
        type: "http://adlnet.gov/expapi/activities/cmi.interaction",
        interactionType: "fill-in",
        to: &out
      )
      out.append(attempt.correct ? ",\"result\":{\"success\":true" : ",\"result\":{\"success\":false")
      if let answer = text(attempt.answer) {
        out.append(",\"response\":")
        out.append(json: answer)
      }
      out.append(",\"duration\":\"")
      out.append(duration: Int(attempt.createdAtMs - context.startedAtMs))
      out.append("\",\"extensions\":{")
      writeExtension("attempt", to: &out)
      out.append(decimal: context.number)
      out.append(",")
      writeExtension("hints-before", to: &out)
      out.append(decimal: attempt.hintsRevealed)
      if let hint = attempt.hintRevealed {
        out.append(",")
        writeExtension("hint-revealed", to: &out)
        out.append(decimal: hint)
      }
      if let objective = attempt.objectiveId {
        out.append(",")
        writeExtension("objective", to: &out)
        out.append(json: objective)
      }
      out.append("}}")
    }
    out.append(",\"context\":{\"registration\":")
    out.append(json: sessionId)
    out.append(",\"platform\":\"tutor\",\"contextActivities\":{\"parent\":[")
    writeActivity(curriculumId, nil, kind: "", type: "http://adlnet.gov/expapi/activities/course", to: &out)
    out.append("]")
    if case .attempt = record {
      out.append(",\"grouping\":[")
      writeActivity(
        curriculumId,
        lessonId,
        kind: "lessons",
        type: "http://adlnet.gov/expapi/activities/lesson",
        to: &out
      )
      out.append("]")
    }
    out.append("}},\"timestamp\":\"")
    out.append(iso8601: timestamp)
    out.append("\",\"version\":\"1.0.3\"}")
  }

  /// `"<home>/xapi/extensions/<name>":`
  private func writeExtension(_ name: StaticString, to out: inout ExportBytes) {
    out.append("\"")
    out.append(jsonHome)
    out.append("/xapi/extensions/")
    out.append(name)
    out.append("\":")
  }

  /// An activity under the home page: the curriculum itself (`item` nil), or one of its lessons
  /// or exercises (`kind` "lessons" or "exercises"), named by its id. Ids go into the IRI as
  /// percent-encoded path segments.
  private func writeActivity(
    _ curriculumId: String,
    _ item: String?,
    kind: StaticString,
    type: StaticString,
    interactionType: StaticString? = nil,
    to out: inout ExportBytes
  ) {
    out.append("{\"objectType\":\"Activity\",\"id\":\"")
    out.append(jsonHome)
    out.append("/curricula/")
    out.append(pathSegment: curriculumId)
    if let item {
      out.append("/")
      out.append(kind)
      out.append("/")
      out.append(pathSegment: item)
    }
    out.append("\",\"definition\":{\"name\":{\"en-US\":")
    out.append(json: item ?? curriculumId)
    out.append("},\"type\":\"")
    out.append(type)
    out.append("\"")
    if let interactionType {
      out.append(",\"interactionType\":\"")
      out.append(interactionType)
      out.append("\"")
    }
    out.append("}}")
  }
}
