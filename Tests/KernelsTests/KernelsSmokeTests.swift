import XCTest
@testable import Kernels
