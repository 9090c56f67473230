/// Activation functions of transformers' `ACT2FN` that GPT-Neo and BERT checkpoints use (`gelu` is
/// the exact, erf-based one).
public enum Activation: Sendable {
  case geluNew, gelu, geluFast, relu, silu

  public static let supportedNames = [
    "gelu_new", "gelu_pytorch_tanh", "gelu", "gelu_fast", "relu", "silu", "swish",
  ]

  public init?(name: String) {
    switch name {
    case "gelu_new", "gelu_pytorch_tanh": self = .geluNew
    case "gelu": self = .gelu
    case "gelu_fast": self = .geluFast
    case "relu": self = .relu
    case "silu", "swish": self = .silu
    default: return nil
    }
  }
}
