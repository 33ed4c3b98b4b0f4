import DeferDrop
import DeferDropTestSupport
import Synchronization


/// Ends the process, naming the round, if a round runs longer than `limit`:
/// a hang (a lost wake-up, a barrier that never returns) would otherwise
/// stall the soak without a word.
final class Watchdog: Sendable {
    private let round = _Lock<(number: Int, scenario: String, since: Double)?>(nil)

    init(limit: Duration) {
        let limit = Double(limit.components.seconds)
        _Thread.detach(named: "soak watchdog") { [self] in
            while true {
                sleep(1)
                let late = self.round.withLock { round in
                    round.flatMap { monotonicSeconds() - $0.since > limit ? $0 : nil }
                }
                if let late {
                    failSoak("round \(late.number) (\(late.scenario)) did not finish in \(Int(limit)) s: a hang")
                }
            }
        }
    }

    func begin(round number: Int, _ scenario: String) {
        round.withLock { $0 = (number, scenario, monotonicSeconds()) }
    }

    func end() {
        round.withLock { $0 = nil }
    }
}

/// Reports the soak's failure and ends the process at once. `_exit`, not
/// `exit`: the exit handlers drain every worker, and after a hang one of them
/// may never finish.
func failSoak(_ message: String) -> Never {
    print("soak: FAILED: \(message)")
    fflush(nil)
    _exit(1)
}
