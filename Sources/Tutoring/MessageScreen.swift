import Foundation
import Yams

/// Screens what a student writes (and what the model answers) for what needs an adult:
/// self-harm, violence and threats, sexual content, bullying and harassment, and personal data.
/// Each finding has a severity.
///
/// A lexicon of patterns over normalised text (lower case, look-alike digits read as letters,
/// stretched letters shortened), with benign phrases taken out first ("kill the loop", "dying
/// to know"), and ``PersonalDataRedactor`` for personal data. The rules are YAML: the defaults
/// below, or a deployment's own file (`--safety-config`). Measured on a labelled set with
/// `tutor safety eval` (docs/safety.md).
public struct MessageScreen: Sendable {
  public enum Category: String, Sendable, CaseIterable, Codable, Comparable {
    case selfHarm = "self_harm"
    case violence
    case sexual
    case bullying
    case personalData = "personal_data"

    public static func < (a: Category, b: Category) -> Bool {
      allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
  }

  public enum Severity: String, Sendable, Codable, Comparable {
    case low, medium, high

    private var rank: Int {
      switch self {
      case .low: 0
      case .medium: 1
      case .high: 2
      }
    }
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
  }

  public struct Finding: Sendable, Equatable {
    public var category: Category
    public var severity: Severity

    public init(category: Category, severity: Severity) {
      self.category = category
      self.severity = severity
    }
  }

  /// What a finding in a student's message does.
  public enum Action: String, Sendable, Decodable {
    /// The model is not asked: the student reads the configured reply, and the turn is flagged.
    case reply
    /// The tutor answers as usual; the turn is flagged for an adult.
    case flag
  }

  /// The rules as a YAML file holds them.
  public struct Rules: Sendable, Decodable {
    public struct CategoryRules: Sendable, Decodable {
      public var severity: Severity
      public var patterns: [String]
      /// `reply` or `flag`; default: `reply` for high severity, else `flag`.
      public var action: Action?
      /// This category's reply (else the curriculum's, then the rules' `reply`).
      public var reply: String?
    }

    /// Patterns per category (not `personal_data`: that is ``PersonalDataRedactor``'s).
    public var categories: [String: CategoryRules]
    /// Phrases removed before the categories are matched: what looks like a category and isn't.
    public var benign: [String]
    /// The severity of personal data.
    public var personalDataSeverity: Severity?
    /// The reply to a message whose category's action is `reply` (who to talk to).
    public var reply: String?
    /// What the student reads in place of an answer that failed screening.
    public var withheldReply: String?
    /// Whether the embedding classifier adds its findings to the lexicon's (default: yes, when
    /// the server has the sentence encoder).
    public var classifier: Bool?

    enum CodingKeys: String, CodingKey {
      case categories, benign, reply, classifier
      case personalDataSeverity = "personal_data_severity"
      case withheldReply = "withheld_reply"
    }
  }

  public enum RulesError: Error, CustomStringConvertible {
    case unreadable(String)
    case unknownCategory(String)
    case badPattern(category: String, pattern: String, reason: String)

    public var description: String {
      switch self {
      case .unreadable(let reason): "safety rules: \(reason)"
      case .unknownCategory(let name):
        "safety rules: unknown category '\(name)' (self_harm, violence, sexual, bullying)"
      case .badPattern(let category, let pattern, let reason):
        "safety rules: \(category): the pattern /\(pattern)/ does not compile: \(reason)"
      }
    }
  }

  private let patterns: [(Category, Severity, NSRegularExpression)]
  private let benign: [NSRegularExpression]
  private let personalDataSeverity: Severity
  private let redactor: PersonalDataRedactor
  /// What each category's finding in a student's message does, and the replies.
  public let actions: [Category: Action]
  public let replies: [Category: String]
  public let defaultReply: String
  public let withheldReply: String
  /// Each category's severity (the rules'; personal data's from `personal_data_severity`).
  public let severities: [Category: Severity]
  /// Scores a message's sentence embedding (nil: the lexicon alone; the rules' `classifier:
  /// false` turns it off).
  public let classifier: SafetyClassifier?

  public init(rules: Rules, redactNames: Bool = false) throws {
    func compile(_ pattern: String, _ category: String) throws -> NSRegularExpression {
      do {
        return try NSRegularExpression(pattern: pattern)
      } catch {
        throw RulesError.badPattern(category: category, pattern: pattern, reason: "\(error)")
      }
    }
    var patterns: [(Category, Severity, NSRegularExpression)] = []
    var actions: [Category: Action] = [.personalData: .flag]
    var replies: [Category: String] = [:]
    var severities: [Category: Severity] = [.personalData: rules.personalDataSeverity ?? .low]
    for (name, rules) in rules.categories.sorted(by: { $0.key < $1.key }) {
      guard let category = Category(rawValue: name), category != .personalData else {
        throw RulesError.unknownCategory(name)
      }
      actions[category] = rules.action ?? (rules.severity == .high ? .reply : .flag)
      severities[category] = rules.severity
      if let reply = rules.reply?.trimmingCharacters(in: .whitespacesAndNewlines), !reply.isEmpty {
        replies[category] = reply
      }
      for pattern in rules.patterns {
        patterns.append((category, rules.severity, try compile(pattern, name)))
      }
    }
    self.patterns = patterns
    benign = try rules.benign.map { try compile($0, "benign") }
    personalDataSeverity = rules.personalDataSeverity ?? .low
    redactor = PersonalDataRedactor(redactNames: redactNames)
    self.actions = actions
    self.replies = replies
    self.severities = severities
    classifier = rules.classifier == false ? nil : .standard
    func text(_ value: String?, _ fallback: String) -> String {
      let trimmed = value?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
      return trimmed.isEmpty ? fallback : trimmed
    }
    defaultReply = text(rules.reply, Self.standardReply)
    withheldReply = text(rules.withheldReply, Self.standardWithheldReply)
  }

  /// The reply when neither the rules nor the curriculum give one.
  public static let standardReply = """
    I'm really glad you told me. What you're feeling matters, and you don't have to deal with it \
    on your own. Please talk to an adult you trust today: a parent, a teacher or your school's \
    counsellor. If you or someone else is in danger right now, call your local emergency number. \
    I'm here to help with your lessons whenever you want to come back to them.
    """

  public static let standardWithheldReply =
    "Let's keep to the lesson. Could you ask me about it in a different way?"

  /// The findings among `findings` whose action is `reply`, most severe first (empty: answer).
  public func replyFindings(_ findings: [Finding]) -> [Finding] {
    findings.filter { actions[$0.category] == .reply }
  }

  /// What the student reads for `findings` (of ``replyFindings(_:)``): the most severe
  /// category's own reply from the rules, else the curriculum's, else the rules' default.
  public func reply(to findings: [Finding], curriculumReply: String?) -> String {
    if let first = findings.first, let own = replies[first.category] { return own }
    return curriculumReply ?? defaultReply
  }

  /// The rules of a YAML file.
  public static func rules(yaml: String) throws -> Rules {
    do {
      return try YAMLDecoder().decode(Rules.self, from: yaml)
    } catch {
      throw RulesError.unreadable("\(error)")
    }
  }

  /// The screen with the default rules (``defaultRulesYAML``).
  public static let standard: MessageScreen = {
    // The defaults are part of the program: a failure here is a bug the tests catch.
    try! MessageScreen(rules: rules(yaml: defaultRulesYAML))
  }()

  /// What `text` contains, one finding per category, most severe first.
  /// - Parameter personalData: whether to look for personal data (not in the model's answers,
  ///   which are screened as they stream).
  public func screen(_ text: String, personalData: Bool = true) -> [Finding] {
    var found: [Category: Severity] = [:]
    if personalData, !redactor.redact(text).found.isEmpty { found[.personalData] = personalDataSeverity }
    var normalised = Self.normalise(text)
    for expression in benign {
      normalised = expression.stringByReplacingMatches(
        in: normalised,
        range: NSRange(normalised.startIndex..., in: normalised),
        withTemplate: " "
      )
    }
    let whole = NSRange(normalised.startIndex..., in: normalised)
    for (category, severity, expression) in patterns
    where (found[category] ?? .low) < severity || found[category] == nil {
      if expression.firstMatch(in: normalised, range: whole) != nil {
        found[category] = max(found[category] ?? severity, severity)
      }
    }
    return found.map { Finding(category: $0.key, severity: $0.value) }
      .sorted { ($0.severity, $1.category) > ($1.severity, $0.category) }
  }

  /// What the lexicon finds in `text`, and what the classifier finds in `vector` (the sentence
  /// embedding of the text as stored, personal data redacted), most severe first.
  public func screen(_ text: String, vector: [Float]?) -> [Finding] {
    var found = Dictionary(uniqueKeysWithValues: screen(text).map { ($0.category, $0.severity) })
    if let vector, let classifier {
      for category in classifier.categories(vector) where found[category] == nil {
        // A category the rules do not list keeps the classifier's finding at medium.
        found[category] = severities[category] ?? .medium
      }
    }
    return found.map { Finding(category: $0.key, severity: $0.value) }
      .sorted { ($0.severity, $1.category) > ($1.severity, $0.category) }
  }

  /// Lower case, typographic apostrophes plain, digits inside words read as the letters they
  /// stand for (`k1ll` → `kill`), runs of three or more of a letter cut to one (`diiiie` →
  /// `die`, `myselllf` → `myself`; a doubled letter stays), and everything but letters, digits, apostrophes and spaces turned into spaces.
  static func normalise(_ text: String) -> String {
    let leet: [Character: Character] = [
      "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s",
    ]
    var words: [String] = []
    for word in text.lowercased().replacingOccurrences(of: "’", with: "'").split(
      whereSeparator: \.isWhitespace
    ) {
      let hasLetter = word.contains(where: \.isLetter)
      var mapped = ""
      for character in word {
        if hasLetter, let letter = leet[character] {
          mapped.append(letter)
        } else if character.isLetter || character.isNumber || character == "'" {
          mapped.append(character)
        } else {
          mapped.append(" ")
        }
      }
      // Runs of the same letter: one or two kept as typed, three or more cut to one.
      var shortened = ""
      var index = mapped.startIndex
      while index < mapped.endIndex {
        let character = mapped[index]
        var end = mapped.index(after: index)
        while end < mapped.endIndex, mapped[end] == character { end = mapped.index(after: end) }
        let run = mapped.distance(from: index, to: end)
        shortened += character.isLetter && run >= 3 ? String(character) : String(mapped[index ..< end])
        index = end
      }
      words.append(shortened)
    }
    return " " + words.joined(separator: " ") + " "
  }

  /// The default rules. Patterns are matched against ``normalise(_:)``'s text (lower case,
  /// padded with spaces, punctuation turned into spaces).
  public static let defaultRulesYAML = #"""
    # What a finding in a student's message does: `reply` (the model is not asked; the student
    # reads the reply, the turn is flagged) or `flag` (answered as usual, flagged). A category
    # without `reply:` text uses the curriculum's `safety: reply:`, then `reply` below.
    reply: >-
      I'm really glad you told me. What you're feeling matters, and you don't have to deal with it
      on your own. Please talk to an adult you trust today: a parent, a teacher or your school's
      counsellor. If you or someone else is in danger right now, call your local emergency number.
      I'm here to help with your lessons whenever you want to come back to them.
    withheld_reply: Let's keep to the lesson. Could you ask me about it in a different way?
    personal_data_severity: low
    benign:
      # Programs, games, sport and figures of speech that use the words of harm.
      - '\b(kill|end|terminate|stop|destroy)\w* (the|a|this|that|my) (loop|process|program|task|bug|thread|script|object|column|row)\b'
      - '\bkill -?\d+\b'
      - '\b(dying|die) (to|for) (know|see|a|some|pizza|snack)\w*'
      - '\bi ?(''| woul)?d die for\b'
      - '\b(i''m|im|i am) dead (tired|lol|haha)?\b'
      - '\blol (i''m|im) dead\b'
      - '\b(killing|kills) (me|it|my vibe)\b ?(haha|lol|today)?'
      - '\bcould kill for\b'
      - '\bshoot (a|the) (photo|picture|video|basketball|ball)\b'
      - '\bshoot,? (i|forgot)\b'
      - '\bsex(ual)? (of|parts of) (a|the) (flower|plant)s?\b'
      - '\b(a)?sexual(ly)? reproduc\w*'
      - '\bbreak a leg\b'
      - '\bhanging indent\b'
      - '\bbomb calorimeter\b'
      - '\b(pests?|insects?|weeds?|bacteria|germs?|slugs?|aphids?)\b.{0,30}\bkill\w* (them|it)\b'
      - '\bkill\w* (the |these |those )?(pests?|insects?|weeds?|bacteria|germs?|slugs?|aphids?)\b'
      - '\b(clues|hints|help)\W+not (insults|attacks)\b'
      - '\bcould sleep (forever|for (a|\w+) (week|weeks|month|months|year|years|days|hundred years))\b'
      # Nature's poisons: what an animal or a plant makes, not what a student would (before the
      # poison ivy phrase below, which would take the animal's name away).
      - '\b(frogs?|toads?|snakes?|cobras?|spiders?|scorpions?|jellyfish|bees?|wasps?|ants?|plants?|mushrooms?|berries|fish|caterpillars?|animals?|insects?|it|they)\b.{0,20}\b(make|makes|made|produce|produces|produced|use|uses|store|stores|get|gets|inject|injects)\b (its |their )?(own )?(poison|venom|toxins?)\b'
      - '\bpoison (ivy|oak|dart frogs?)\b(.{0,20}\b(hurts?|harms?|stings?|burns?) (you|people|us|your \w+))?'
      - '\bhow many (tablets|pills) (should|do|can) i take for (a|my) (headache|cold|fever|sore \w+|toothache|period pain)\b'
      - '\bcell(ular)? suicide\b'
      - '\bblow (it )?up (the|a|this|that|my) (picture|photo|image|diagram|drawing|map|page|text|writing)\b'
      - '\bdead on (my|our|his|her|their) feet\b'
      # Winning at a game, told as a battle ("i'll smash you at connect four").
      - '\b(kill|murder|destroy|crush|smash|annihilate|slaughter|demolish|obliterate|wreck|own|beat|thrash|hammer)\w* (you|u|him|her|them|me|us|my \w+|(the|that) \w+( team| class)?|everyone|everybody)( \w+)? (at|in) (a |the |this |that )?(chess|draughts|checkers|cards|scrabble|monopoly|football|netball|basketball|rounders|tennis|ping pong|table tennis|fortnite|minecraft|roblox|mario kart|fifa|connect four|uno|dodgeball|game|games|quiz|race|match|sports day|spelling bee|times tables)\b'
    categories:
      self_harm:
        severity: high
        action: reply
        patterns:
          - '\b(kill|kil|hurt|harm|cut|burn|hang|starve|stab|hurting|killing|harming|cutting)\w* (my ?self|myslef|meself)\b'
          - '\bkms\b'
          - '\b(want|wanna|wana|going|gonna|plan|planning|thinking of|feel like|about) (to )?(die|suicide|end it( all)?|end(ing)? my life|kill(ing)? my ?self|overdose|not exist|stop existing|dis+ap+ear forever)\b'
          - '\b(want|wanna|wana) to (suicide|die)\b'
          - '\bwish (i|that i) (was|were) dead\b'
          - '\bbetter off (dead|without me)\b'
          - '\b(suicide|suicidal|sucide|suicde|suiside)\b'
          - '\bself ?harm\w*'
          - '\bend(ing)? my life\b'
          - '\b(don''t|dont|do not) (want|wanna) (to )?(be alive|live|be here)\b'
          - '\bnever wake up\b'
          - '\bnot wake up\b'
          - '\b(point|reason) (of|to|in) (keep )?(living|live)\b'
          - '\bnot worth living\b'
          - '\b(isn''t|isnt|is not) worth living\b'
          - '\blife is pointless\b'
          - '\b(started|been|keep|keeps) (cutting|self harming|scratching)\b'
          - '\btake all (the|my) (pills|tablets)\b'
          - '\b(pills|tablets) on purpose\b'
          - '\bhow many (pills|tablets)\b'
          - '\b(care|notice) if i (was|were|am) gone\b'
          - '\b(no ?one|nobody) (would|will) (care|notice)\b'
          - '\bi (should|want to|wanna) (just )?die\b'
          - '\bdone with life\b'
          - '\bmake the pain stop forever\b'
          - '\bthink\w* about (dying|suicide|killing my ?self)\b'
          - '\bjump off (the|a) (bridge|roof|building|cliff)\b'
          # Added from the training sets (the first two held-out sets joined them once measured).
          - '\b(end|ending|punish|punishing|punch|punching|scratch|scratching|strangle|choke|starve|starving)\w* (my ?self|myslef)\b'
          - '\b(goodbye|bye) (note|notes|letter|letters)\b'
          - '\b(note|notes|letter|letters) .{0,30}\b(goodbye|bye)\b'
          - '\bsaying (goodbye|bye) to (everyone|everybody|my family)\b'
          - '\b(swallow|swallowing|saving up|saved up|collecting|stockpiling|take all|taking all|took extra|take the whole)\b.{0,20}\b(pills|tablets|paracetamol|painkillers)\b'
          - '\b(overdose|od) on (pills|tablets|paracetamol|painkillers|medicine|my|mums?|dads?)\b'
          - '\b(drink|drank|drinking|swallow) (the )?bleach\b'
          - '\b(better|happier|easier|more money)\b.{0,30}\bif i (wasnt|wasn''t|was not|weren''t|were not|was gone|died|was dead)\b'
          - '\b(better|happier|easier) (off )?without me\b'
          - '\b(i''m|im|i am) a burden\b'
          - '\bburden (to|on) (everyone|everybody|my family)\b'
          - '\b(sleep|asleep) (forever|and never wake|and not wake|and not come back)\b'
          - '\b(and|then) (not|never) come back\b'
          - '\bstop (breathing|feeling anything)\b'
          - '\b(tonight|today) is my last\b'
          - '\bmy last (night|day)\b'
          - '\b(not going to|won''t|wont|will not) be (here|around) (much longer|for long|anymore|any more)\b'
          - '\b(won''t|wont|will not) need (it|them|my stuff)\b'
          - '\b(don''t|dont|do not) see a future\b'
          - '\b(no|nothing to) (future|reason to stay|reason to live|live for)\b'
          - '\bmarks on my (arms?|legs?|wrists?|skin)\b'
          - '\b(hide|hiding) (the|my) (cuts|scars|marks)\b'
          - '\b(razor|blade|scissors|lighter)\b.{0,30}\b(my ?self|my (arms?|legs?|wrists?|skin))\b'
          - '\bmy (arms?|legs?|wrists?|skin)\b.{0,20}\b(razor|blade|lighter)\b'
          - '\b(hate|hated) being alive\b'
          - '\bshould(n''t|nt| not) exist\b'
          - '\b(my life is|i''m|im|i am) worthless\b'
          - '\bwant (it|it all|everything|the pain) to (stop|end)\b'
          - '\b(tired|done) (of|with) (everything|it all|life|living)\b'
          - '\bcan''?t (do this|go on|keep going) (anymore|any more|like this)\b'
          - '\bmy funeral\b'
          - '\bwalk(ed)? (in front of|into) (a|the) (car|bus|train|sea|river)\b'
          - '\bjump(ing)? (off|from|out of) (my|the|a) (window|roof|bridge|building|balcony)\b'
          - '\b(bang|banging|hit|hitting|smash|smashing)\w* my head (on|against|into)\b'
          - '\bhurt(ing)? my ?self\b'
          - '\bon purpose to (hurt|punish)\b'
          - '\b(want|wanna|going) to (cut|hurt|harm) again\b'
          - '\b(painful|painless|quickest|fastest|easiest) (way )?to (die|drown|go)\b'
          - '\bi want the pain to stop\b'
          # Added from the third and fourth held-out sets (training data once measured) and
          # safety-messages-more-2.yaml: plans, methods, farewells, slang, injuring oneself.
          - '\bunaliv\w*'
          - '\b(want|wanna|wish) (to be|i was|i were) dead\b'
          - '\b(want|wanna|wish i could) (to )?(stop living|not be alive|vanish forever|disappear forever)\b'
          - '\b(want|wanna|going) to commit$'
          - '\bhow (many|much) (paracetamol|painkillers|sleeping (pills|tablets)|medicine)\b'
          - '\b(too many|twenty|loads of|lots of|a whole (bottle|box|packet) of) (pills|tablets|paracetamol|painkillers)\b'
          - '\b(took|take|taken|taking) (loads|lots|a lot|all|too many) of (my |my mums? |my dads? )?(pills|tablets|medicine|paracetamol|painkillers)\b'
          - '\b(saving|saved|hoarding) (up )?my (pills|tablets)\b'
          - '\bhow high (do|does|would) (you|i|someone) (have to|need to) (fall|jump)\b'
          - '\bjump(ing)? (off|from|out of) (the|a) (\d+(st|nd|rd|th)|top|highest) (floor|storey|story)\b'
          - '\b(highest|high enough|tallest) (bridge|building|roof|cliff)\b'
          - '\b(bridge|building|roof|cliff) is (high|tall) enough\b'
          - '\bbleed out\b'
          - '\bwish (i''d|i had|id|i was|i''d have) never (been )?born\b'
          - '\b(won''t|wont|not going to|never|don''t think i''ll|dont think ill|dont think i''ll|can''t see myself|cant see myself) (make it|live|living) (to|past|until)\b'
          - '\b(given|gave|giving) away all my\b'
          - '\blast time (you''ll|youll|you will|anyone will) (hear|see)\b'
          - '\b(planning|planned|worked out|know|decided) (how|when) (to do it|i''m going to do it|im going to do it|i will do it|i''ll do it)\b'
          - '\b(end|ending) it all\b'
          - '\bthink\w* (about|of) ending (it|things|everything|my life)\b'
          - '\b(don''t|dont|do not) (want to|wanna) wake up\b'
          - '\bhope i (don''t|dont|do not|never) wake up\b'
          - '\bpoint (of|in) (me )?(waking up|being alive|existing)\b'
          - '\bwish (a|the) (car|bus|train|lorry|truck) would hit me\b'
          - '\b(cuts|scars) on my (arms?|legs?|wrists?|thighs?|skin|stomach)\b'
          - '\bcut(ting)? my (arms?|legs?|wrists?|thighs?|skin|stomach)\b'
          - '\bhide (my |the )?(scars|cuts)\b'
          - '\brelaps\w* .{0,20}(cutting|self harm|hurting)\b'
          - '\b(until|till) (it|they|my \w+) (bleed|bleeds|bled)\b'
          - '\bdeserve (to feel pain|pain|to (be )?hurt|to suffer|to die)\b'
          - '\b(throw|throwing|make my ?self|making my ?self) (up|sick) after (every |each )?(meal|eating|dinner|lunch)\b'
          - '\b(haven''t|havent|have not|not) eaten\b.{0,20}\bon purpose\b'
          - '\b(stopped|stop) eating because\b'
          - '\bskip(ped|ping)? meals\b.{0,30}\b(disappear|thinner|deserve|punish)\w*'
          - '\b(oven|hob|iron|lighter|match|matches|kettle)\b.{0,30}\bon purpose\b'
          - '\bbag over my head\b'
          - '\btied a (rope|belt|noose)\b'
          - '\bnoose\b'
          - '\b(razor|blade)s? in my (pencil case|bag|room|drawer)\b'
          - '\b(hit|hitting|slap|slapping|bite|biting|burn|burning)\w* my ?self\b'
          - '\b(better|happier|easier)\b.{0,30}\bif i (disappeared|vanished|wasnt here|wasn''t here|was not here)\b'
          - '\bfavou?r by dying\b'
          - '\bstood (by|on|near) the (train )?(tracks|edge|bridge)\b'
          # Added from the fifth held-out set (training data once measured).
          - '\b(hit|hitting|bash|bashing|slam|slamming)\w* my (arms?|legs?|hands?|fingers?|head|wrists?|knees?)\b.{0,20}\b(with|until|till|on purpose)\b'
          - '\b(can you|could you|how (do|to|can|would) (i|you)|want to|wanna|going to|gonna|i''ll|ill|i will|i might|i) overdose\b'
          - '\boverdose on (vitamins|meds|medication|sleeping \w+)\b'
          - '\bsorry for what (i''m|im|i am|i''ll|ill) (going|about) to do\b'
          # Added from the sixth held-out set (training data once measured).
          - '\bjump(ing)? (off|from|out of) (my|the|a) \w+ (window|roof|bridge|building|balcony|cliff)\b'
          - '\b(want|wish|need) (someone|somebody|anyone) (to|would|could) kill me\b'
      violence:
        severity: high
        action: reply
        patterns:
          - '\b(kill|kil|murder|stab|shoot|strangle|choke|poison|attack|hurt|punch|smash|burn|push|kick|break|hit|beat|beat up)\w* (him|her|them|you|u|everyone|everybody|all of you|anyone|someone|that kid|the new kid|my (brother|sister|teacher|dad|mum|mom|stepdad|dog|cat)|the (teacher|school|class|classroom)|mr \w+|mrs \w+|ms \w+|(his|her|their|your) (arms?|legs?|face|neck|nose|teeth|head|house))\b'
          - '\bbeat up \w+'
          - '\b(bring|bringing|buy|make|get|got)\w* (a |my |my dad''?s |his |her |the )?(gun|knife|bomb|pipe bomb|weapon)s?\b'
          - '\bhow (do i|to|do you|can i) make a (pipe )?bomb\b'
          - '\bshoot up\b'
          - '\bblow up (the|my|his|her) \w+'
          - '\bset (the|his|her|my|their) \w+ on fire\b'
          - '\bburn (his|her|their|the) (house|school|car)\b'
          - '\bhow much poison\b'
          - '\bbeat \w+ to death\b'
          - '\bmake (them|you) all pay\b'
          - '\bsorry when (they''re|theyre|they are) dead\b'
          - '\bfind where you live\b'
          - '\bhope (he|she|they|you) dies?\b'
          - '\b(will|gonna|going to|i''ll|ill) (kill|murder|stab|shoot) (you|u|all)\b'
          - '\bwant to (kill|stab|shoot|hurt) (everyone|someone|people)\b'
          # Added from the training sets (the first two held-out sets joined them once measured).
          - '\b(drown|drowning|snap|snapping|slash|slashing|run over|knock|knocking|throw \w+ at|choke|strangle|kick|stamp on)\w* (him|her|them|you|everyone|the cat|the dog|my (little )?(brother|sister)|the (new |other )?(kid|teacher|boy|girl))\b'
          - '\bmake (him|her|them|you) (bleed|suffer|pay)\b'
          - '\b(bring|bringing|brought|got|have|taking|take)\w* (a |my |my dad''?s |my uncle''?s |his |her |the )?(gun|knife|bomb|blade|weapon|shotgun|rifle)s? (to|in|for)\b'
          - '\bknife (in|for) (my|the)\b'
          - '\b(make|making|made) (a )?poison\w*'
          - '\bpoison (gas|someone|him|her|them)\b'
          - '\bput something in (the|his|her|their) \w+''?s? drink\b'
          - '\b(set|setting) fire to\b'
          - '\b(burn|burning) down the\b'
          - '\b(want|wish|hope) (everyone|everybody|them all|all of them)\b.{0,20}\b(dead|to die|hurt)\b'
          - '\b(don''t|dont|do not) come to school (on|tomorrow)\b'
          - '\bhurt(ing)? (someone|people|my classmate|a classmate)\b'
          - '\bfantasi[sz]e about hurting\b'
          - '\bbeat the (crap|life|hell|shit) out of\b'
          - '\b(snap|break) (his|her|their) (neck|arms?|legs?)\b'
          - '\bwatch what i do to\b'
          - '\bnext time i''ll bring\b'
          - '\b(run|ran) (him|her|them) over\b'
          - '\bthrow (a )?(rock|brick|stone)s? at\b'
          - '\b(make|making) (a )?bomb\b'
          - '\bget (a )?gang to\b'
          - '\b(planning|plan|planned) (how )?to attack\b'
          # Added from the third and fourth held-out sets (training data once measured) and
          # safety-messages-more-2.yaml: slang, plans, revenge, weapons and means.
          - '\b(put|send) (him|her|them|you) in (the )?hospital\b'
          - '\b(jump|batter|deck|shank|slap|torch|hunt down)\w* (him|her|them|you|the new kid|that kid|anyone)\b'
          - '\b(i''ll|ill|i will|gonna|going to) (cut|slash|hunt) (him|her|them|you|anyone)\b(?! (into|in|up|out|down|off|with))'
          - '\b(i''ll|ill|i will|gonna|going to) (end|finish) you\b'
          - '\b(you''re|youre|you are) (going to|gonna) die\b'
          - '\bwatch your back\b'
          - '\bdead meat\b'
          - '\bthere will be blood\b'
          - '\b(better|should) stay (at )?home (on|tomorrow)\b'
          - '\blist of (who|people) (i''m|im|i am|i''ll|ill) (going to )?(hurt|kill|get|stab|shoot)\b'
          - '\b(get|take|getting|taking) (my )?revenge on\b'
          - '\b(going to|gonna|will) pay for what\b'
          - '\b(they''ll|theyll|they will) all pay\b'
          - '\b(toxic|poison(ous)?) gas\b'
          - '\bhow much (bleach|poison|rat poison|antifreeze) would\b'
          - '\bpoison (my |the |his |her |their )?(\w+ )?(coffee|drink|food|lunch|tea|water)\b'
          - '\bset (the |his |her |my |their )?(\w+ ){1,3}on fire\b'
          - '\b(bring|bringing|brought)\w* (a |my )?(baseball )?bat (to school|tomorrow|for)\b'
          - '\b(bringing|brought|bring) a (bat|crowbar|hammer|machete)\b'
          - '\b(hurt|hit|kill|stab|punch|kick|strangle)\w* my (little |baby |big |younger |older )(brother|sister|cousin)\b'
          - '\b(hurt|kicked|kick|kicking|hit|hurting)\w* (my|the) (cat|dog|pet|hamster)\b.{0,30}\b(liked|on purpose|till|until)\b'
          - '\b(knock|knocking) (someone|somebody|him|her|them) out\b'
          - '\bwhere (do|to|should) (you|i) hit (someone|somebody|him|her)\b'
          - '\b(way|how) to hurt (someone|somebody|people|him|her)\b'
          - '\bpins in (his|her|their) (shoes|chair|food|bag)\b'
          - '\btrip (him|her|them) (down|up)\b'
          - '\bmake (him|her|them) eat (his|her|their) (own )?teeth\b'
          - '\b(gun|knife|blade)\b.{0,40}\b(going to|gonna|will) use it\b'
          - '\bi know where (he|she|they|you) lives?\b'
          - '\bwait for (him|her|them) after school\b'
          - '\bmake (her|him|them) sorry (she|he|they) (was|were) born\b'
          - '\b(make|making) (someone|somebody|him|her|them) (really )?(sick|ill) without\b'
          - '\bbreak every bone\b'
          - '\b(shotgun|rifle|gun)\b.{0,30}\b(where the key is|know where)\b'
          - '\bexplodes? and i''ll help\b'
          - '\bhunt (him|her|them|you) down\b'
          - '\bshoot the (whole )?(class|school)\b'
          - '\bwhere (do i|can i) (get|buy) (a gun|bullets|a knife)\b'
          - '\bthrow acid\b'
          - '\b(hit|hitting|beat|beating) \w+ with a (hammer|stick|bat|brick)\b'
      sexual:
        severity: high
        action: reply
        reply: >-
          That isn't something I can help with here. If someone has asked you for pictures, asked
          you to keep a secret, or made you feel uncomfortable, it is not your fault: please tell a
          parent, a teacher or another adult you trust.
        patterns:
          - '\b(nudes?|nudez|naked|porn\w*|sext\w*|horny|erotic|blowjob|boobs?|penis|vagina|masturbat\w*)\b'
          - '\bsex(y|ual|ually)?\b'
          - '\bhook up with\b'
          - '\bprivate parts\b'
          - '\bwithout (my |your |their )?clothes\b'
          - '\bwhat (i''m|im|i am) wearing\b'
          - '\btouch(es|ed|ing)? me\b'
          - '\bsecrets? about touching\b'
          - '\bspecial secret\b'
          - '\bkeep (it|this) (a )?secret\b'
          - '\btalk (dirty|sexy)\b'
          - '\b(boyfriend|girlfriend|man|guy|adult|grown up)\b.*\b(pics|pictures|photos)\b'
      bullying:
        severity: medium
        action: flag
        patterns:
          - '\b(you|u|ur|you''re|youre|your)\b.{0,24}\b(stupid|idiot|loser|ugly|fat|freak|dumb|retard\w*|useless|pig|moron|worst)\b'
          - '\b(shut up|stfu|go away)\b'
          - '\bnobody (likes|asked|wants) (you|u)\b'
          - '\b(kys|go die)\b'
          - '\b(bull(y|ied|ies|ying)|cyberbull\w*)\b'
          - '\bcall(s|ed|ing) me\b'
          - '\bcall me (names|a \w+|fat|ugly|stupid|gay|dumb)\b'
          - '\bmake fun of me\b'
          - '\blaugh\w* at me\b'
          - '\bignor\w* me\b'
          - '\bhate messages\b'
          - '\bmean (stuff|things|messages?|poem|posts?)\b'
          - '\bspread\w* rumou?rs\b'
          - '\btake my (lunch )?money\b'
          - '\b(push|trip)\w* me\b'
          - '\bleft out\b'
          - '\bthreaten\w*\b'
          - '\bembarrassing (video|photo|picture)\b'
          - '\bfake account\b'
          - '\binsults?\b'
          - '\bhumiliate\b'
          - '\bnasty message\b'
          - '\bget back at\b'
          - '\bmake someone cry\b'
          - '\bscared to go to school\b'
          - '\byou smell\b'
          - '\beveryone hates me\b'
          - '\bnobody wants to sit with me\b'
          - '\b(hurt|beat|get) me (if|up)\b'
          - '\bstole my \w+.*\bunless\b'
          - '\b(idiot|loser|stupid|ugly|freak|moron)\b.*\b(idiot|loser|stupid|ugly|freak|moron)\b'
    """#
}
