// The soak: random rounds of hand-offs, flushes and shutdowns against every
// kind of disposer, for a given time, checking the package's guarantees.
//
//     swift run -c release soak --seconds 60 [--seed N] [--verbose] [--no-forks]
//
// Some rounds fork while busy and check the children (`Forks.swift`), except
// with --no-forks or under ThreadSanitizer.
//
// Exits 0 when every invariant held, 1 with the first one broken (and the
// seed that reproduces the sequence of rounds), 2 on bad arguments.

import DeferDropTestSupport

let options = SoakOptions.parse(CommandLine.arguments.dropFirst())
var random = SoakRandom(seed: options.seed)
let start = monotonicSeconds()
let watchdog = Watchdog(limit: hangLimit)
print("soak: \(options.seconds) s, seed \(options.seed)\(options.forks ? ", forking" : ", no forks")")
if options.forks { prepareForForks() }

var rounds = 0
var values = 0
var lastReport = start
while monotonicSeconds() - start < Double(options.seconds) {
    rounds += 1
    let scenario = Scenario.random(using: &random, round: rounds, forking: options.forks)
    if options.verbose { print("soak: round \(rounds): \(scenario)") }
    watchdog.begin(round: rounds, scenario.description)
    if let problem = runRound(scenario, round: rounds, random: &random) {
        failSoak("round \(rounds) (\(scenario)): \(problem)\nsoak: the same rounds again: --seed \(options.seed)")
    }
    watchdog.end()
    values += scenario.producers * scenario.valuesPerProducer
    if monotonicSeconds() - lastReport >= 10 {
        lastReport = monotonicSeconds()
        print("soak: \(Int(lastReport - start)) s, \(rounds) rounds, \(values) values")
        fflush(nil)
    }
}
let elapsed = Int(monotonicSeconds() - start)
let children = forkChildrenChecked.load(ordering: .relaxed)
print(
    "soak: every invariant held: \(rounds) rounds, \(values) values, \(children) fork children in \(elapsed) s "
        + "(seed \(options.seed))")
