import XCTest
@testable import Pruning
