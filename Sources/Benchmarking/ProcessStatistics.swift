import Foundation

/// The clock and memory readings every measurement uses (bench, run, the server's metrics).
public enum ProcessStatistics {
    /// Monotonic nanoseconds.
    public static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// The process's peak resident set (VmHWM) in bytes.
    public static func peakRSS() -> Int { statusBytes("VmHWM:") }

    /// The process's current resident set (VmRSS) in bytes.
    public static func residentBytes() -> Int { statusBytes("VmRSS:") }

    /// Restarts the peak-RSS counter (Linux `clear_refs` 5), so each model's peak is its own.
    public static func resetPeakRSS() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// A "Name:   123 kB" line of /proc/self/status, in bytes (0 where there is none).
    private static func statusBytes(_ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }
}
