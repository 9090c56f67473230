import Curriculum

/// Bayesian Knowledge Tracing (Corbett & Anderson, 1995): the probability that a student has
/// learned an objective, updated after each graded attempt.
///
/// After an attempt the estimate is first conditioned on the evidence, then the chance of
/// learning from the practice opportunity is added:
///
///     P(L | correct) = P(L)(1 − slip) / (P(L)(1 − slip) + (1 − P(L)) guess)
///     P(L | wrong)   = P(L) slip / (P(L) slip + (1 − P(L))(1 − guess))
///     P(L)' = P(L | evidence) + (1 − P(L | evidence)) learn
public enum KnowledgeTracing {
  /// The estimate after one attempt, starting from `prior` (or `pInit` before the first).
  public static func update(prior: Double?, correct: Bool, parameters p: MasteryParameters) -> Double {
    let known = prior ?? p.pInit
    let posterior: Double
    if correct {
      let a = known * (1 - p.pSlip)
      posterior = a / (a + (1 - known) * p.pGuess)
    } else {
      let a = known * p.pSlip
      posterior = a / (a + (1 - known) * (1 - p.pGuess))
    }
    let next = posterior + (1 - posterior) * p.pLearn
    return next.isFinite ? min(max(next, 0), 1) : known
  }
}
