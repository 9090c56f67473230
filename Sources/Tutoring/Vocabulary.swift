// The values the core's operations take and hand back, re-exported one by one so that a caller
// (the gRPC server) imports only `Tutoring`. Only plain values are listed: the store, the index,
// the catalog's parts and the model stay inside the core, reached through its operations.

@_exported import struct Curriculum.Course
@_exported import struct Curriculum.CurriculumDiagnostic
@_exported import struct Curriculum.Exercise
@_exported import struct Curriculum.Lesson
@_exported import struct Curriculum.SnippetHit
@_exported import enum Engine.FinishReason
@_exported import enum Engine.KVCacheFormat
@_exported import enum Engine.WeightFormat
@_exported import enum TutorStore.DatabaseLocation
@_exported import struct TutorStore.ExportFilter
@_exported import struct TutorStore.StoredSession
@_exported import struct TutorStore.StoredTurn
