import TutorStore

/// PSLC DataShop tab-delimited transactions (columns: ``AnalyticsExporter/dataShopColumns``).
///
/// Each exercise is a single-step problem. An attempt is one ATTEMPT/RESULT transaction, outcome
/// CORRECT or INCORRECT, timed from the session's previous attempt (or its start); when the
/// tutor's answer to it revealed a hint, a HINT_REQUEST/HINT_MSG transaction follows at the same
/// time with the hint's number as the help level. Turns (free questions) have no transactions:
/// DataShop's model is steps of problems. Total Num Hints comes from
/// ``ExportOptions/hintCounts`` and stays empty for exercises it doesn't know.
extension AnalyticsExporter {
  mutating func writeTransactions(_ record: ExportRecord, to out: inout ExportBytes) {
    guard case .attempt(let attempt, let context) = record else { return }
    let student = student(attempt.studentId)
    let totalHints = options.hintCounts[
      ExerciseKey(
        curriculumId: attempt.curriculumId,
        lessonId: attempt.lessonId,
        exerciseId: attempt.exerciseId
      )
    ]
    func transaction(hint: Int?) {
      rowsWritten += 1
      out.append(decimal: rowsWritten)
      out.append("\tAll Data\t")
      out.append(tsv: attempt.id)
      if hint != nil { out.append("-hint") }
      out.append("\t")
      out.append(tsv: student)
      out.append("\t")
      out.append(tsv: attempt.sessionId)
      out.append("\t")
      out.append(dataShopTime: attempt.createdAtMs)
      out.append("\tUTC\t")
      if hint == nil {
        out.append(seconds: Int(attempt.createdAtMs - context.startedAtMs))
      } else {
        out.append("0")
      }
      out.append(hint == nil ? "\tATTEMPT\t\tRESULT\t\t" : "\tHINT_REQUEST\t\tHINT_MSG\t\t")
      out.append(tsv: attempt.curriculumId)
      out.append("\t")
      out.append(tsv: attempt.lessonId)
      out.append("\t")
      out.append(tsv: attempt.exerciseId)
      out.append("\t1\t")
      out.append(dataShopTime: context.exerciseStartedAtMs)
      out.append("\t")
      out.append(tsv: attempt.exerciseId)
      out.append("\t")
      out.append(decimal: context.number)
      out.append(context.isLast ? "\t1\t" : "\t0\t")
      if hint == nil {
        out.append(attempt.correct ? "CORRECT" : "INCORRECT")
      } else {
        out.append("HINT")
      }
      out.append("\t")
      out.append(tsv: attempt.exerciseId)
      out.append(hint == nil ? "\tsubmit\t" : "\thint\t")
      if hint == nil, let answer = text(attempt.answer) { out.append(tsv: answer) }
      // Feedback Text and Classification stay empty; then Help Level, Total Num Hints, KC.
      out.append("\t\t\t")
      if let hint { out.append(decimal: hint) }
      out.append("\t")
      if let totalHints { out.append(decimal: totalHints) }
      out.append("\t")
      if let objective = attempt.objectiveId { out.append(tsv: objective) }
      out.append("\t\n")
    }
    transaction(hint: nil)
    if let hint = attempt.hintRevealed { transaction(hint: hint) }
  }
}
