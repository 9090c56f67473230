import Foundation
import Testing
import TutorTestSupport

@testable import Tutoring

/// The message screen's default rules on the labelled sets, and its rules files.
@Suite struct MessageScreenTests {
  static func set(_ name: String) throws -> [ScreeningEvaluation.Message] {
    let url = Repository.root.appendingPathComponent("Tests/TutoringTests/Fixtures/\(name)")
    return try ScreeningEvaluation.messages(yaml: try String(contentsOf: url, encoding: .utf8))
  }

  @Test func theDefaultRulesKeepTheirScoresOnTheSetTheyWereWrittenFrom() throws {
    // The rules were written with this set in view: this guards them against regressions; the
    // held-out set below is the measurement.
    let messages = try Self.set("safety-messages.yaml")
    #expect(messages.count >= 300)
    let evaluation = ScreeningEvaluation(screen: .standard, messages: messages)
    for score in evaluation.scores {
      #expect(score.labelled >= 30, "\(score.category)")
      #expect(score.recall == 1 && score.precision == 1, "\(score)")
    }
    #expect(evaluation.benign >= 130 && evaluation.benignFlagged == 0, "\(evaluation.mistakes)")
  }

  @Test func onTheHeldOutSetTheRulesFlagNoBenignMessage() throws {
    // Measured once (docs/safety.md): precise, but their recall is far below the 0.95;
    // what is asserted is what a lexicon does reliably — it does not cry wolf.
    let evaluation = ScreeningEvaluation(
      screen: .standard,
      messages: try Self.set("safety-messages-heldout.yaml")
    )
    #expect(evaluation.benign >= 20 && evaluation.benignFlagged == 0)
    let personal = try #require(evaluation.scores.first { $0.category == .personalData })
    #expect(personal.recall == 1 && personal.precision == 1)
  }

  @Test func spellingTricksAreReadThrough() {
    for text in ["i want to k1ll myselllf", "I WANT TO DIE!!!", "im gonna sh00t u", "s3nd nud3s"] {
      #expect(!MessageScreen.standard.screen(text).isEmpty, "\(text)")
    }
    #expect(
      MessageScreen.standard.screen("i want to k1ll myself").first
        == .init(category: .selfHarm, severity: .high)
    )
  }

  @Test func aRulesFileWithAMistakeSaysWhere() throws {
    let badPattern = "categories:\n  violence:\n    severity: high\n    patterns: ['(unclosed']\nbenign: []\n"
    #expect {
      try MessageScreen(rules: MessageScreen.rules(yaml: badPattern))
    } throws: { "\($0)".contains("violence: the pattern /(unclosed/ does not compile") }
    let unknown = "categories:\n  spam:\n    severity: low\n    patterns: ['buy now']\nbenign: []\n"
    #expect {
      try MessageScreen(rules: MessageScreen.rules(yaml: unknown))
    } throws: { "\($0)".contains("unknown category 'spam'") }
    // A deployment's own list replaces the defaults.
    let own = try MessageScreen(
      rules: MessageScreen.rules(
        yaml: "categories:\n  bullying:\n    severity: low\n    patterns: ['\\bnoob\\b']\nbenign: []\n"
      )
    )
    #expect(own.screen("ur such a noob") == [.init(category: .bullying, severity: .low)])
    #expect(own.screen("i want to die").isEmpty)
  }
}

/// The embedding classifier on our engine's encoder: what the lexicon cannot list.
@Suite struct SafetyClassifierTests {
  static func vector(_ text: String) throws -> [Float] {
    try HybridRetrievalTests.encoder.get().embed([PersonalDataRedactor().redact(text).text])[0]
  }

  @Test func theClassifierReadsTheEncodersVectors() {
    #expect(SafetyClassifier.standard.dimension == 384)
    #expect(SafetyClassifier.standard.categories([Float](repeating: 0, count: 10)).isEmpty)
  }

  @Test func indirectPhrasingsAreFlaggedAndLookAlikesAreNot() throws {
    let screen = MessageScreen.standard
    // Training messages the lexicon has no pattern for.
    for (text, category) in [
      ("soon i wont be a problem for anyone", MessageScreen.Category.selfHarm),
      ("i know where he lives and im going round there with a bat", .violence),
    ] {
      #expect(screen.screen(text).isEmpty, "the lexicon alone misses '\(text)'")
      let found = screen.screen(text, vector: try Self.vector(text))
      #expect(found.contains { $0.category == category && $0.severity == .high }, "\(text): \(found)")
    }
    for text in ["why do plants die without light", "how do i kill an infinite loop in python"] {
      #expect(screen.screen(text, vector: try Self.vector(text)).isEmpty, "\(text)")
    }
  }

  @Test func theRulesCanTurnTheClassifierOff() throws {
    let screen = try MessageScreen(
      rules: MessageScreen.rules(yaml: "classifier: false\nbenign: []\ncategories: {}")
    )
    #expect(screen.classifier == nil)
    let text = "soon i wont be a problem for anyone"
    #expect(screen.screen(text, vector: try Self.vector(text)).isEmpty)
  }
}
