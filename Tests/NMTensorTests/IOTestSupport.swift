import Foundation
import NMTensor
import Testing

// Helpers shared by the NPY, safetensors, image file and resize tests.

/// A file under Tests/NMTensorTests/Fixtures (written by make_fixtures.py).
func ioFixture(_ relativePath: String) -> URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(relativePath)")
}

/// A fresh path in the temporary directory (nothing is created).
func ioTemporaryURL(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("nm-io-\(UUID().uuidString)-\(name)")
}

/// The `TensorIOError` thrown by `body` with its file wrapper removed, or nil (recording an
/// issue) if nothing or something else was thrown.
func thrownIOProblem(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> TensorIOError? {
    do {
        try body()
    } catch let error as TensorIOError {
        return error.problem
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        return nil
    }
    Issue.record("expected a TensorIOError, none was thrown", sourceLocation: sourceLocation)
    return nil
}

/// A `[H, W, C]` tensor from an integer-valued `.npy` fixture scaled by 1 / `scale`.
func ioScaledFixture(_ relativePath: String, scale: Float) throws -> Tensor {
    let raw = try Tensor(npyFile: ioFixture(relativePath))
    return Tensor(shape: raw.shape, scalars: raw.scalars.map { $0 / scale })
}
