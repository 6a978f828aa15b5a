/// A parsed JSON value.
///
/// Numbers are kept losslessly: integers that fit in `Int64` are stored as
/// ``int(_:)``; integer literals outside that range keep their text in
/// ``bigInteger(_:)``; every other number literal (with a fraction or an
/// exponent) keeps its text in ``number(_:)``. Writing a value back with
/// ``JSONWriter/value(_:)`` reproduces those texts verbatim.
public enum JSONValue: Equatable, Sendable {
    /// The literal `null`.
    case null
    /// The literal `true` or `false`.
    case bool(Bool)
    /// An integer literal (no fraction, no exponent) that fits in `Int64`.
    case int(Int64)
    /// An integer literal (no fraction, no exponent) outside the `Int64` range, kept as its text.
    case bigInteger(String)
    /// Any other number literal (it has a fraction or an exponent), kept as its text.
    case number(String)
    /// A string, with escapes decoded.
    case string(String)
    /// An array, in input order.
    case array([JSONValue])
    /// An object, with its members in input order.
    case object(JSONObject)
}

extension JSONValue {
    /// The string payload, or `nil` if this is not a ``string(_:)``.
    @inlinable public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The integer payload, or `nil` if this is not an ``int(_:)``.
    @inlinable public var intValue: Int64? {
        if case .int(let v) = self { return v }
        return nil
    }

    /// The boolean payload, or `nil` if this is not a ``bool(_:)``.
    @inlinable public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements, or `nil` if this is not an ``array(_:)``.
    @inlinable public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The object, or `nil` if this is not an ``object(_:)``.
    @inlinable public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// `true` if this is ``null``.
    @inlinable public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// A JSON object: its members in input (or insertion) order.
///
/// Equality is order-sensitive: two objects are equal when they hold the same
/// members in the same order, which is exactly when ``JSONWriter`` writes them
/// as the same bytes. Lookup by key is a linear scan, which is the fastest
/// choice for the small objects a ledger handles.
public struct JSONObject: Equatable, Sendable {
    /// The members, in order. The parser never produces duplicate keys.
    public var entries: [(key: String, value: JSONValue)]

    /// An object with the given members, in that order.
    @inlinable public init(_ entries: [(key: String, value: JSONValue)] = []) {
        self.entries = entries
    }

    /// The value for `key`, or `nil` if there is no such member.
    ///
    /// Setting a value replaces the existing member in place, or appends a new
    /// member; setting `nil` removes the member.
    @inlinable public subscript(key: String) -> JSONValue? {
        get {
            for e in entries where e.key == key { return e.value }
            return nil
        }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key: key, value: newValue))
            }
        }
    }

    /// The keys, in order.
    @inlinable public var keys: [String] { entries.map(\.key) }

    /// The number of members.
    @inlinable public var count: Int { entries.count }

    /// `true` when the object has no members.
    @inlinable public var isEmpty: Bool { entries.isEmpty }

    /// `true` when both objects hold equal members in the same order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.entries.count == rhs.entries.count else { return false }
        for (a, b) in zip(lhs.entries, rhs.entries) where a.key != b.key || a.value != b.value {
            return false
        }
        return true
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// An object with the literal's members, in the order written.
    @inlinable public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.entries = elements.map { (key: $0.0, value: $0.1) }
    }
}
