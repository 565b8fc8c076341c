// swift-tools-version:6.2
import PackageDescription

/// CI builds with every warning as an error (`GATEHOUSE_WARNINGS_AS_ERRORS=1`, set by `.ci/run`); local builds do not,
/// so work in progress still compiles.
let strictSettings: [SwiftSetting] =
    Context.environment["GATEHOUSE_WARNINGS_AS_ERRORS"] != nil ? [.treatAllWarnings(as: .error)] : []

let package = Package(
    name: "gatehouse",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "gatehouse", targets: ["gatehouse"])
    ],
    dependencies: [
        .package(url: "https://github.com/vapor/jwt-kit.git", exact: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "4.1.0"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", exact: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
    ],
    targets: [
        // Pure policy core: path normalisation, route table, token verification, the `decide` function.
        // No NIO, no I/O.
        .target(
            name: "GatehousePolicy",
            dependencies: [
                .product(name: "JWTKit", package: "jwt-kit")
            ]
        ),
        // Key material: PEM and JWKS files, environment secrets, fresh keys and token minting for tests.
        .target(
            name: "GatehouseKeys",
            dependencies: [
                "GatehousePolicy",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // routes.yaml -> validated configuration, policy tests, explain.
        .target(
            name: "GatehouseConfig",
            dependencies: [
                "GatehousePolicy",
                "GatehouseKeys",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The NIO data path: server channel, upstream pool, header policy, local answers, access log.
        .target(
            name: "GatehouseProxy",
            dependencies: [
                "GatehousePolicy",
                "GatehouseConfig",
                "GatehouseKeys",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(
            name: "gatehouse",
            dependencies: [
                "GatehouseConfig",
                "GatehouseKeys",
                "GatehousePolicy",
                "GatehouseProxy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "GatehouseBench",
            dependencies: ["GatehouseConfig", "GatehouseKeys", "GatehousePolicy"],
            path: "Benchmarks/GatehouseBench"
        ),
        .testTarget(
            name: "GatehousePolicyTests",
            dependencies: ["GatehousePolicy", "GatehouseKeys"]
        ),
        .testTarget(
            name: "GatehouseProxyTests",
            dependencies: [
                "GatehouseProxy", "GatehouseConfig", "GatehousePolicy", "GatehouseKeys",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "GatehouseKeysTests",
            dependencies: ["GatehouseKeys", "GatehousePolicy"]
        ),
        .testTarget(
            name: "GatehouseConfigTests",
            dependencies: ["GatehouseConfig", "GatehousePolicy", "GatehouseKeys"]
        ),
    ]
)

for target in package.targets {
    target.swiftSettings = (target.swiftSettings ?? []) + strictSettings
}
