import CoreMetrics
import DeferDrop
import Hummingbird
import Prometheus
import ShardedDrop

// Routes: GET /<mode>/<workload>?size=N builds the workload with N keys or
// objects, answers with its count, and drops it the mode's way:
//
//     /inline/map   /shared/map   /pool/map   /dispatch/map   /strict/map   /timed/map   /stopped/map
//     /inline/objects …
//
// GET /metrics gives DeferDrop's metrics (and anything else reported through
// swift-metrics) in the Prometheus text format.

let options = Options(CommandLine.arguments.dropFirst())

// Bootstrap before any worker takes its first value: each worker makes its
// metrics from `MetricsSystem.factory` then.
let registry = PrometheusCollectorRegistry()
MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

// The server recipe: the time-bounded policy, for a server that may be
// saturated. While a worker is 20 ms behind, requests free their own garbage.
DropWorker.shared.capacity = .server
let pool = ShardedDropPool(name: "server-pool", capacity: .server)
let workers = Workers(options: options)

let router = Router()
router.get("metrics") { _, _ in
    registry.emitToString()
}
router.get("{mode}/{workload}") { request, context -> String in
    guard let mode = context.parameters.get("mode").flatMap(Mode.init(rawValue:)),
        let workload = context.parameters.get("workload").flatMap(Workload.init(rawValue:))
    else {
        throw HTTPError(.notFound, message: "try /inline/map, /shared/objects, /pool/map or /dispatch/objects")
    }
    let size = request.uri.queryParameters.get("size", as: Int.self) ?? options.size
    guard (1...10_000_000).contains(size) else {
        throw HTTPError(.badRequest, message: "size=\(size): give 1 to 10,000,000 keys or objects")
    }
    switch workload {
    case .map:
        let map = makeMap(keys: size)
        let count = map.count
        mode.drop(consume map, pool: pool, workers: workers)
        return "\(count)\n"
    case .objects:
        let objects = makeObjects(count: size)
        let count = objects.count
        mode.drop(consume objects, pool: pool, workers: workers)
        return "\(count)\n"
    }
}

// The pool and the shared worker run in the application's service group,
// before the HTTP server: a graceful shutdown (SIGTERM, SIGINT) stops the
// server first, then drains both, so no value a request dropped is lost.
let app = Application(
    router: router,
    configuration: .init(address: .hostname(options.host, port: options.port), serverName: "deferdrop-example"),
    services: [pool, DropWorker.shared, workers.strict, workers.timed]
)
try await app.runService()
