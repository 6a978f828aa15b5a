import Foundation
import PropertyBased
import Testing
@testable import Subledger

/// The backbone: for any command stream, the store agrees with an independent model of the
/// rules of docs/commands.md, and its log, views and indexes keep their invariants.
@Suite struct ReplayProperties {
    /// Property 1: the incremental views (and every status and position) equal the reference model's.
    @Test(arguments: Backend.all) func incrementalViewsEqualTheModel(_ backend: Backend) async {
        await propertyCheck(count: CommandStreams.cases, input: CommandStreams.steps) { steps in
            failOnThrow {
                let lines = CommandStreams.lines(steps)
                var twin = try Twin(backend: backend)
                let (product, expected) = try twin.run(lines)
                for (i, (p, e)) in zip(product, expected).enumerated() {
                    #expect(p.matches(e), "line \(i + 1): \(lines[i])\nproduct: \(p)\nmodel: \(e)")
                }
                for view in Twin.views {
                    #expect(try twin.productView(view) == twin.model.view(view), "view \(view) after \(lines.count) lines")
                }
            }
        }
    }

    /// Property 8: any split of a stream into batches (write transactions) gives the same log and views.
    /// On LMDB the tests' batches of two or more commands also run beside a thread reading ahead of
    /// the writer (`ReadAhead`), and batches of one without: it must change no byte either.
    @Test(arguments: Backend.all) func anySplitIntoBatchesGivesTheSameLogAndViews(_ backend: Backend) async {
        await propertyCheck(count: CommandStreams.cases / 2, input: CommandStreams.steps, Gen.int(in: 1...9).array(of: 1...4)) { steps, sizes in
            failOnThrow {
                let lines = CommandStreams.lines(steps)
                var one = try Twin(backend: backend), split = try Twin(backend: backend)
                let a = try one.run(lines, batchSizes: [1]).product
                let b = try split.run(lines, batchSizes: sizes).product
                #expect(a.map(\.status) == b.map(\.status))
                #expect(a.map(\.position) == b.map(\.position))
                #expect(try one.temp.store.events().map(Self.comparable) == split.temp.store.events().map(Self.comparable))
                // Clock and generated ids are reproducible here, so the bytes must match too.
                #expect(try one.temp.store.contentDigest() == split.temp.store.contentDigest())
                for view in Twin.views {
                    #expect(try one.productView(view) == split.productView(view))
                }
            }
        }
    }

    /// An event's content; ids are reproducible in tests, so only event ids and hashes are left
    /// out (the generator's order of calls differs when batches differ).
    static func comparable(_ e: RecordedEvent) -> String {
        "\(e.position) \(e.stream) \(e.version) \(e.data) \(e.at) \(e.recordedAt) \(e.commandID ?? "-")"
    }

    /// Property 7: executing the applied commands again appends nothing: each is a duplicate of
    /// its first position.
    @Test(arguments: Backend.all) func executingAgainWithTheSameCommandIDsAppendsNothing(_ backend: Backend) async {
        await propertyCheck(count: CommandStreams.cases / 2, input: CommandStreams.steps) { steps in
            failOnThrow {
                let lines = CommandStreams.lines(steps)
                var twin = try Twin(backend: backend)
                let first = try twin.run(lines).product
                let head = try twin.temp.store.head()
                let applied = zip(lines, first).filter { $0.1.isApplied }
                let again = try twin.temp.store.execute(batch: applied.map { CommandDecoder.decode(line: $0.0) })
                for ((_, original), retry) in zip(applied, again) {
                    #expect(retry == .duplicate(positions: [original.position!], created: original.created))
                }
                #expect(try twin.temp.store.head() == head)
            }
        }
    }

    /// Property 9: a rejected command leaves the log, the indexes and the views byte for byte unchanged.
    @Test(arguments: Backend.all) func aRejectedCommandChangesNothing(_ backend: Backend) async {
        await propertyCheck(count: CommandStreams.cases / 2, input: CommandStreams.steps) { steps in
            failOnThrow {
                let twin = try Twin(backend: backend)
                for line in CommandStreams.lines(steps) {
                    let before = try twin.temp.store.contentDigest()
                    let outcome = try twin.temp.store.execute(batch: [CommandDecoder.decode(line: line)], durable: false)[0]
                    if case .rejected = outcome {
                        #expect(try twin.temp.store.contentDigest() == before, "rejected line changed the store: \(line)")
                    }
                }
            }
        }
    }

    /// Property 10: invariants of the views.
    @Test(arguments: Backend.all) func viewInvariantsHold(_ backend: Backend) async {
        await propertyCheck(count: CommandStreams.cases, input: CommandStreams.steps) { steps in
            failOnThrow {
                var twin = try Twin(backend: backend)
                _ = try twin.run(CommandStreams.lines(steps))
                let memberships = try twin.productView("memberships"), subscriptions = try twin.productView("subscriptions")
                for group in try twin.productView("groups") {
                    #expect(group["member_count"] == .int(Int64(memberships.filter { $0["group"] == group["id"] }.count)))
                }
                let active = subscriptions.filter { $0["cancelled"] == .null }
                for team in try twin.productView("team_plans") {
                    let used = active.filter { $0["plan"] == team["id"] }.count
                    #expect(team["seats_used"] == .int(Int64(used)))
                    if case .int(let seats)? = team["seats"] { #expect(used <= seats) }
                }
                let pairs = active.map { "\($0["user"]!) \($0["plan"]!)" }
                #expect(Set(pairs).count == pairs.count, "at most one active subscription per (user, plan)")
                // Ids are never reused: every stream's first event is its only creation.
                let events = try twin.temp.store.events()
                let creations = events.filter { $0.data.createsEntity }
                #expect(Set(creations.map(\.stream.id)).count == creations.count)
                #expect(creations.allSatisfy { $0.version == 1 })
                // Proxies equal a filter and sort of their base view.
                #expect(try twin.productView("active_subscriptions") == active.sorted {
                    ($0["created"]!.description, $0["id"]!.description) < ($1["created"]!.description, $1["id"]!.description)
                })
                let plans = try twin.productView("plans")
                let paying = active.filter { s in plans.contains { $0["id"] == s["plan"] && ($0["price_cents"].map { $0 != .int(0) } ?? false) } }
                #expect(try twin.productView("paying_subscriptions") == paying)
                #expect(try twin.productView("recent_memberships") == memberships.sorted {
                    $0["joined"]!.description != $1["joined"]!.description ? $0["joined"]!.description > $1["joined"]!.description
                        : $0["id"]!.description < $1["id"]!.description
                })
                // Positions are gapless from 1 and the hash chain links.
                #expect(events.map(\.position) == Array(1...UInt64(max(events.count, 1))).prefix(events.count).map { $0 })
            }
        }
    }
}
