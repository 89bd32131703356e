import XCTest
@testable import Benchmarking
