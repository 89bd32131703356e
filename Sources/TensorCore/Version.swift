/// The tool version recorded in every artifact's provenance.
public enum ModelSmithVersion {
    public static let current = "0.1.0"
}
