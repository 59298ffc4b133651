import Foundation
import NMNets
import NMTensor
import Testing

/// A fresh, empty temporary directory.
private func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("nm-cifar10-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The pixel byte of record `record` at offset `offset` (0..<3072) in the test files: a pattern
/// that differs between records, channels, rows and columns.
private func pixelByte(record: Int, offset: Int) -> UInt8 {
    UInt8((record * 37 + offset * 13 + offset / 1024 * 101) % 256)
}

/// CIFAR-10 binary records with the given labels, pixels from `pixelByte` (records numbered from `firstRecord`).
private func records(labels: [UInt8], firstRecord: Int = 0) -> [UInt8] {
    var bytes: [UInt8] = []
    for (index, label) in labels.enumerated() {
        bytes.append(label)
        bytes += (0..<3072).map { pixelByte(record: firstRecord + index, offset: $0) }
    }
    return bytes
}

/// The `DatasetError` thrown by `body`, or nil (recording an issue).
private func thrownDatasetError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> DatasetError? {
    do {
        try body()
    } catch let error as DatasetError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        return nil
    }
    Issue.record("expected a DatasetError, none was thrown", sourceLocation: sourceLocation)
    return nil
}

@Suite struct CIFAR10Tests {
    @Test func readsLabelsAndPixelsInChannelPlaneOrder() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("test_batch.bin")
        try Data(records(labels: [3, 0, 9])).write(to: file)

        let (images, labels) = try CIFAR10.load(file: file)
        #expect(labels == [3, 0, 9])
        #expect(images.shape == [3, 3, 32, 32])
        for record in 0..<3 {
            for channel in 0..<3 {
                for row in 0..<32 {
                    for column in 0..<32 {
                        let byte = pixelByte(record: record, offset: channel * 1024 + row * 32 + column)
                        #expect(images[record, channel, row, column] == Float(byte) / 255)
                    }
                }
            }
        }
        // Spot checks written out: record 1, green plane, row 2, column 5 → offset 1093.
        #expect(images[1, 1, 2, 5] == Float((37 + 1093 * 13 + 101) % 256) / 255)
        #expect(images.scalars.allSatisfy { (0...1).contains($0) })

        let split = try CIFAR10.load(directory: directory, split: .test)
        #expect(split.labels == labels && split.images == images)
        let limited = try CIFAR10.load(file: file, limit: 2)
        #expect(limited.labels == [3, 0] && limited.images == images.sliced(alongAxis: 0, 0..<2))
    }

    @Test func trainingSplitConcatenatesTheFiveBatchesInOrder() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for batch in 1...5 {
            let labels = batch == 2 ? [UInt8(4), 5] : [UInt8(batch)]
            let first = batch <= 2 ? batch - 1 : batch
            try Data(records(labels: labels, firstRecord: first)).write(to: directory.appendingPathComponent("data_batch_\(batch).bin"))
        }
        let (images, labels) = try CIFAR10.load(directory: directory, split: .training)
        #expect(labels == [1, 4, 5, 3, 4, 5])
        #expect(images.shape == [6, 3, 32, 32])
        for record in 0..<6 {
            #expect(images[record, 2, 31, 31] == Float(pixelByte(record: record, offset: 3071)) / 255)
        }
        let limited = try CIFAR10.load(directory: directory, split: .training, limit: 2)
        #expect(limited.labels == [1, 4])
        #expect(limited.images == images.sliced(alongAxis: 0, 0..<2))
        #expect(CIFAR10.classNames.count == 10 && CIFAR10.classNames[3] == "cat")
    }

    @Test func truncatedFileThrowsInvalidLength() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("data_batch_1.bin")
        try Data(records(labels: [1, 2]).dropLast(5)).write(to: file)
        let error = thrownDatasetError { _ = try CIFAR10.load(file: file) }
        #expect(error == .invalidLength(path: file.path, byteCount: 2 * 3073 - 5, recordSize: 3073))
        #expect(error?.description.contains(file.path) == true)
        #expect(error?.description.contains("6141 bytes") == true)
    }

    @Test func labelByteOfTenOrMoreThrowsLabelOutOfRange() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("test_batch.bin")
        try Data(records(labels: [9, 10, 255])).write(to: file)
        let error = thrownDatasetError { _ = try CIFAR10.load(file: file) }
        #expect(error == .labelOutOfRange(path: file.path, record: 1, label: 10, classCount: 10))
        #expect(error?.description == "\(file.path): record 1 has label 10, outside 0..<10")
        // The label check covers records beyond the limit too.
        #expect(thrownDatasetError { _ = try CIFAR10.load(file: file, limit: 1) } == .labelOutOfRange(path: file.path, record: 1, label: 10, classCount: 10))
    }

    @Test func missingEmptyAndDirectoryFilesThrow() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("test_batch.bin")
        #expect(thrownDatasetError { _ = try CIFAR10.load(file: missing) } == .fileNotFound(path: missing.path))
        #expect(thrownDatasetError { _ = try CIFAR10.load(directory: directory, split: .test) } == .fileNotFound(path: missing.path))
        #expect(thrownDatasetError { _ = try CIFAR10.load(file: directory) } == .fileNotFound(path: directory.path))

        // A training split with batch 3 absent names that file.
        for batch in [1, 2, 4, 5] {
            try Data(records(labels: [0])).write(to: directory.appendingPathComponent("data_batch_\(batch).bin"))
        }
        let third = directory.appendingPathComponent("data_batch_3.bin")
        #expect(thrownDatasetError { _ = try CIFAR10.load(directory: directory, split: .training) } == .fileNotFound(path: third.path))

        try Data().write(to: third)
        #expect(thrownDatasetError { _ = try CIFAR10.load(directory: directory, split: .training) } == .emptyFile(path: third.path))
    }
}
