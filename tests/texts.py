"""Small policy texts the tests share, written for this project."""

# A notice with a 文号, a 主送 line, a preamble, two sections, three articles
# and responsibility notes (one naming units with nested brackets).
DIBAO = """青川市民政局关于提高城乡最低生活保障标准的通知
青民发〔2025〕3号
各县（市、区）民政局：
为保障困难群众基本生活，现就提高最低生活保障标准通知如下。
一、提高保障标准
（一）城市低保标准。城市最低生活保障标准由每人每月780元提高到820元。（牵头单位：市民政局；责任单位：各县（市、区）人民政府）
（二）农村低保标准。农村最低生活保障标准由每人每年6800元提高到7200元。（牵头单位：市民政局）
二、工作要求
（一）按时发放。各地要于2025年3月底前按新标准发放到位。（责任单位：各县（市、区）民政局）
青川市民政局
2025年1月10日
"""
