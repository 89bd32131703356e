import XCTest
@testable import ModelGraph
