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

  @Test func gamesAndNaturesPoisonsAreNotThreatsButTheSameWordsMeantAre() {
    for text in [
      "i'll smash you at connect four", "we're going to destroy them at rounders",
      "my brother always murders me at mario kart", "how does a poison dart frog make poison",
      "how do spiders make venom",
    ] {
      #expect(MessageScreen.standard.screen(text).isEmpty, "\(text)")
    }
    for text in ["i'll smash you", "i'll smash his face in after school", "how do i make poison"] {
      #expect(MessageScreen.standard.screen(text).map(\.category) == [.violence], "\(text)")
    }
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
      ("someone is going to get hurt tomorrow and it'll be my doing", .violence),
    ] {
      #expect(screen.screen(text).isEmpty, "the lexicon alone misses '\(text)'")
      let found = screen.screen(text, vector: try Self.vector(text))
      #expect(found.contains { $0.category == category && $0.severity == .high }, "\(text): \(found)")
    }
    for text in ["why do plants die without light", "how do i kill an infinite loop in python"] {
      #expect(screen.screen(text, vector: try Self.vector(text)).isEmpty, "\(text)")
    }
  }

  @Test func theNeighbourMarginRemembersTheTrainingMessages() throws {
    let neighbours = try #require(SafetyClassifier.standard.neighbours, "the exported vectors decode")
    #expect(neighbours.labels.count == SafetyClassifier.neighbourCount && neighbours.dimension == 384)
    #expect(neighbours.labels.contains { $0 & 1 != 0 } && neighbours.labels.contains { $0 & 2 != 0 })
    // A training message sits closer to its own category's messages than to the others, and a
    // benign one the other way round.
    for (text, category) in [
      ("i want to unalive myself", MessageScreen.Category.selfHarm),
      ("i'm going to wait for her after school and get her", .violence),
    ] {
      let cosines = neighbours.cosines(try Self.vector(text))
      #expect(neighbours.margin(cosines, category: category) > 0, "\(text)")
    }
    let benign = neighbours.cosines(try Self.vector("how do i end my program early"))
    #expect(neighbours.margin(benign, category: .selfHarm) < 0)
    #expect(neighbours.margin(benign, category: .violence) < 0)
    // The margin counts only where the model says so (self-harm and threats).
    let scores = SafetyClassifier.standard.scores(try Self.vector("i want to unalive myself"))
    #expect(scores.first { $0.category == .selfHarm }?.flagged == true)
    #expect(SafetyClassifier.standard.models.filter(\.neighbours).map(\.category) == [.selfHarm, .violence])
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
