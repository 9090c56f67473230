import Analytics
import TutorStore

extension TutoringService {
  /// A learning-record export, read on a thread of its own and taken chunk by chunk (see
  /// ``ExportChunks``); each exercise's hint count comes from the curricula as served now. Call
  /// ``ExportChunks/cancel()`` when the caller goes away.
  public func export(
    by caller: Principal,
    filter: ExportFilter,
    format: ExportFormat,
    includeText: Bool,
    pseudonymizer: Pseudonymizer?,
    homePage: String
  ) throws -> ExportChunks {
    try caller.authorize(.exportSessions)
    if let since = filter.since, let until = filter.until, until <= since {
      throw TutoringError.invalidArgument("until must be after since")
    }
    let options = ExportOptions(
      includeText: includeText,
      pseudonymizer: pseudonymizer,
      homePage: homePage,
      hintCounts: ExportOptions.hintCounts(of: catalog.snapshot.curricula)
    )
    return ExportChunks.start(store: store, filter: filter, format: format, options: options)
  }
}
