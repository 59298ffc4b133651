import Foundation

/// The CC0 sample photos bundled with the library (see Resources/Samples/LICENSES.md).
public enum SampleImages {
    /// The names of the bundled photos.
    public static let names = ["chelsea", "coffee", "camera", "rocket"]

    /// The file of a bundled photo, or `nil` for an unknown name.
    public static func url(named name: String) -> URL? {
        guard names.contains(name) else { return nil }
        return Bundle.module.url(forResource: "Samples/\(name)", withExtension: "png")
            ?? Bundle.module.url(forResource: "Samples/\(name)", withExtension: "jpg")
    }
}
