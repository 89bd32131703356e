import XCTest
@testable import TestSupport
