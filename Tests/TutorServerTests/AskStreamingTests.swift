import Curriculum
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Synchronization
import Testing
import TutorAPI
import TutorServer
import TutorTestSupport
import Tutoring

/// Streamed answers under cancellation, deadlines and concurrency, through the real server.
@Suite("Asking: cancellation and concurrency")
struct AskStreamingTests {
  @Test("Cancelling an Ask mid-stream, or passing its deadline, leaves the turn marked cancelled")
  func cancellation() async throws {
    // The slower test model: its answers take seconds, so the 400 ms deadline below passes
    // mid-answer even when the machine pauses the client.
    try await withTestServer {
      $0.modelDirectory = TestModel.slowDirectory
    } body: { server in
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with {
            $0.studentID = "student-c"
            $0.curriculumID = "python-intro"
          }
        )
        let request = Tutor_V1_AskRequest.with {
          $0.sessionID = session.sessionID
          $0.question = "Explain variables."
          $0.options = .with {
            $0.maxNewTokens = 1024
            $0.temperature = 1
            $0.seed = 3
          }
        }
        // The client stops reading after the first delta: the call is cancelled.
        let deltasSeen = try await tutor.ask(request) { response in
          var deltas = 0
          for try await message in response.messages {
            if case .delta = message.event {
              deltas += 1
              break
            }
          }
          return deltas
        }
        #expect(deltasSeen == 1)
        let cancelled = try await ServerTests.waitForTurn(tutor, session: session.sessionID, index: 0) {
          $0 != .answering
        }
        #expect(cancelled.status == .cancelled)
        #expect(cancelled.finishReason == .cancelled)
        #expect(cancelled.usage.completionTokens < 1024)
        #expect(cancelled.hasCompletedAt)

        // A deadline that passes mid-answer does the same. (Under load the deadline may pass before
        // the question was stored; then nothing may have been stored at all.)
        var options = CallOptions.defaults
        options.timeout = .milliseconds(400)
        let started = ServerTests.Shared(false)
        await #expect(throws: RPCError.self) {
          try await tutor.ask(request, options: options) { response in
            for try await message in response.messages {
              if case .started = message.event { started.set(true) }
            }
          }
        }
        var turns: [Tutor_V1_Turn] = []
        for _ in 0 ..< 200 {
          turns = try await tutor.getSession(.with { $0.sessionID = session.sessionID }).turns
          if !turns.contains(where: { $0.status == .answering }) { break }
          try await Task.sleep(for: .milliseconds(25))
        }
        if started.value { #expect(turns.count == 2, "the stored question is there") }
        if turns.count == 2 {
          #expect(turns[1].status == .cancelled)
          #expect(turns[1].finishReason == .cancelled)
        } else {
          #expect(turns.count == 1, "a question refused before it was stored leaves no turn")
        }

        // The session is usable again afterwards.
        var short = request
        short.options.maxNewTokens = 4
        let after = try await tutor.askAll(short)
        #expect(after.completed?.finishReason != .cancelled)
      }
    }
  }

  @Test("Concurrent questions in different sessions all make progress together")
  func concurrentAsks() async throws {
    try await withTestServer {
      $0.maxConcurrentGenerations = 4
    } body: { server in
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        var sessions: [String] = []
        for i in 0 ..< 3 {
          sessions.append(
            try await tutor.startSession(
              .with {
                $0.studentID = "student-\(i)"
                $0.curriculumID = "fractions-ratios"
              }
            ).sessionID
          )
        }
        let clock = ContinuousClock()
        let origin = clock.now
        // Each stream: when its first delta came, and when it completed.
        let timings = try await withThrowingTaskGroup(of: (Duration, Duration).self) { group in
          for id in sessions {
            group.addTask {
              try await tutor.ask(
                .with {
                  $0.sessionID = id
                  $0.question = "What is a ratio?"
                  $0.options = .with {
                    $0.maxNewTokens = 200
                    $0.temperature = 1
                    $0.seed = 11
                  }
                }
              ) { response in
                var first: Duration?
                var done: Duration?
                for try await message in response.messages {
                  switch message.event {
                  case .delta: if first == nil { first = clock.now - origin }
                  case .completed: done = clock.now - origin
                  default: break
                  }
                }
                return (try #require(first), try #require(done))
              }
            }
          }
          return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(timings.count == 3)
        // Every stream had started before any finished: none waited for another to end.
        let lastFirst = timings.map(\.0).max()!
        let firstDone = timings.map(\.1).min()!
        #expect(lastFirst < firstDone, "first deltas \(timings.map(\.0)), completions \(timings.map(\.1))")

        // The three sessions, listed by curriculum in pages of two, newest first.
        let page1 = try await tutor.listSessions(
          .with {
            $0.curriculumID = "fractions-ratios"
            $0.pageSize = 2
          }
        )
        #expect(page1.sessions.count == 2 && !page1.nextPageToken.isEmpty)
        let page2 = try await tutor.listSessions(
          .with {
            $0.curriculumID = "fractions-ratios"
            $0.pageSize = 2
            $0.pageToken = page1.nextPageToken
          }
        )
        #expect(page2.sessions.count == 1 && page2.nextPageToken.isEmpty)
        let listed = page1.sessions + page2.sessions
        #expect(Set(listed.map(\.sessionID)) == Set(sessions))
        #expect(zip(listed, listed.dropFirst()).allSatisfy { $0.createdAt.date >= $1.createdAt.date })
        #expect((page1.sessions + page2.sessions).allSatisfy { $0.turnCount == 1 })
      }
    }
  }
}
