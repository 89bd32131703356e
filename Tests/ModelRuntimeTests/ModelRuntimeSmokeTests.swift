import XCTest
@testable import ModelRuntime
