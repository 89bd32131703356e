import XCTest
@testable import ModelFormats
