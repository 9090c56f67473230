// swift-tools-version:6.1
import PackageDescription

/// One settings list for every Swift target (STYLE.md, "Settings once").
let swiftSettings: [SwiftSetting] = [
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
  name: "tutor",
  platforms: [.macOS(.v15)],
  products: [
    .library(name: "Engine", targets: ["Engine"]),
    .library(name: "Curriculum", targets: ["Curriculum"]),
    .library(name: "TutorStore", targets: ["TutorStore"]),
    .library(name: "Analytics", targets: ["Analytics"]),
    .library(name: "Tutoring", targets: ["Tutoring"]),
    .library(name: "TutorServer", targets: ["TutorServer"]),
    .executable(name: "tutor", targets: ["tutor"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    // The learning record of a deployment with several replicas: PostgreSQL.
    .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    // TLS to PostgreSQL (`sslmode=require`); already built for gRPC's TLS.
    .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    // Already built for gRPC's TLS (through swift-certificates); pseudonyms are HMAC-SHA256.
    .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    // Operator metrics: swift-metrics as the API everywhere, Prometheus as the backend, served
    // over HTTP/1 with swift-nio (already built for gRPC).
    .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    // Tests only: exports are parsed back with a real CSV reader.
    .package(url: "https://github.com/yaslab/CSV.swift.git", from: "2.5.2"),
  ],
  targets: [
    // Numeric kernels of the engine. Always optimised, even in debug builds, so that the test
    // suite (built in debug by CI) runs real models in seconds; SIMD paths are chosen at run time.
    .target(
      name: "CEngineKernels",
      cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]
    ),
    .target(
      name: "Engine",
      dependencies: ["CEngineKernels"],
      swiftSettings: swiftSettings
    ),
    // Curricula as authored files: parsing, validation (lint) and snippet retrieval (BM25 fused
    // with a sentence encoder's similarities).
    .target(
      name: "Curriculum",
      dependencies: [
        .product(name: "Yams", package: "Yams"),
        .product(name: "Mustache", package: "swift-mustache"),
      ],
      swiftSettings: swiftSettings
    ),
    // Development code, never served: SQLite FTS5 as BM25's reference, and a made-up learning
    // record for the export and statistics benchmarks. Used by `tutor bench` and the tests.
    .target(
      name: "TutorBench",
      dependencies: [
        "Curriculum",
        "TutorStore",
        .product(name: "GRDB", package: "GRDB.swift"),
      ],
      swiftSettings: swiftSettings
    ),
    // The tutoring core: sessions, questions and answers over the engine, the curricula and the
    // store; prompts from lesson, snippets and history within the model's context.
    .target(
      name: "Tutoring",
      dependencies: [
        "Curriculum",
        "Engine",
        "TutorStore",
        "Analytics",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Mustache", package: "swift-mustache"),
        .product(name: "Yams", package: "Yams"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Metrics", package: "swift-metrics"),
      ],
      swiftSettings: swiftSettings
    ),
    // The gRPC server: the tutor.v1 services and grpc.health.v1 over HTTP/2 (grpc-swift 2).
    .target(
      name: "TutorServer",
      dependencies: [
        "Tutoring",
        "Analytics",
        "TutorAPI",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    // Students, sessions, turns, attempts and mastery: in SQLite (GRDB, WAL) on one machine, or in
    // PostgreSQL (postgres-nio) shared by replicas; versioned migrations for each.
    .target(
      name: "TutorStore",
      dependencies: [
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "PostgresNIO", package: "postgres-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Metrics", package: "swift-metrics"),
      ],
      swiftSettings: swiftSettings
    ),
    // Learning-record exports (CSV, JSON Lines, xAPI, DataShop) and summary statistics.
    .target(
      name: "Analytics",
      dependencies: ["TutorStore", "Curriculum", .product(name: "Crypto", package: "swift-crypto")],
      swiftSettings: swiftSettings
    ),
    // Generated from protos/ by tools/generate-api.sh; never edited by hand.
    .target(
      name: "TutorAPI",
      dependencies: [
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
    .executableTarget(
      name: "tutor",
      dependencies: [
        "Engine",
        "CEngineKernels",
        "Curriculum",
        "Tutoring",
        "TutorServer",
        "TutorAPI",
        "TutorStore",
        "Analytics",
        "TutorBench",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
      ],
      swiftSettings: swiftSettings
    ),
    // What tests in several targets share: repository paths, the small test model, a real server
    // on a loopback port that always stops (withTestServer), Ask transcripts.
    .target(
      name: "TutorTestSupport",
      dependencies: [
        "Engine",
        "Tutoring",
        "TutorStore",
        "TutorServer",
        "TutorAPI",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Tests/TutorTestSupport",
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "EngineTests",
      dependencies: ["Engine", "TutorTestSupport"],
      exclude: ["Fixtures"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "CurriculumTests",
      dependencies: ["Curriculum", "TutorBench", "TutorTestSupport"],
      exclude: ["Fixtures"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "TutoringTests",
      dependencies: [
        "Tutoring", "Engine", "TutorStore", "TutorTestSupport", .product(name: "Yams", package: "Yams"),
      ],
      exclude: ["Fixtures"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "AnalyticsTests",
      dependencies: [
        "Analytics",
        "TutorStore",
        "TutorBench",
        "TutorTestSupport",
        .product(name: "CSV", package: "CSV.swift"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "TutorStoreTests",
      dependencies: ["TutorStore", "TutorTestSupport"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "TutorAPITests",
      dependencies: ["TutorAPI"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "TutorServerTests",
      dependencies: [
        "TutorTestSupport",
        "TutorServer",
        "Tutoring",
        "Engine",
        "Curriculum",
        "TutorAPI",
        "TutorStore",
        "Analytics",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "GRDB", package: "GRDB.swift"),
      ],
      exclude: ["interop_client.py"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "TutorCLITests",
      dependencies: [
        "tutor",
        "TutorStore",
        "TutorTestSupport",
        "TutorAPI",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
      ],
      swiftSettings: swiftSettings
    ),
  ],
  swiftLanguageModes: [.v6]
)
