import XCTest
@testable import Quantization
